"""The ghost service."""
