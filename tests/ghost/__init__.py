"""Tests of the ghost metadata core."""
