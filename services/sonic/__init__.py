"""The sonic service."""
