"""Byte-level walkers for the container formats ghost rewrites without decoding pixels or audio."""
