"""The chaos soak: the whole stack under orders and faults, then a check for every loss and duplicate."""

from soak.runner import SoakOptions, run_soak

__all__ = ["SoakOptions", "run_soak"]
