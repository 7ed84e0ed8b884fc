"""Benchmarks: `make bench` (or `python -m benchmarks`) prints one table."""
