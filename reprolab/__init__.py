"""reprolab: a containerised lab of reproduction scenarios for low-level Linux bugs."""

__version__ = "0.1.0"
