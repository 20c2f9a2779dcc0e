"""The `forge` command: runs any subset of the platform's services (or their workers) in one process."""

__version__ = "0.1.0"
