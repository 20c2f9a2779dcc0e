"""Benchmarks of the ghost metadata core against mat2 and exiftool."""
