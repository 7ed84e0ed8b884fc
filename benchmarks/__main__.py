"""`make bench`: every benchmark, one after the other, each printing its table."""

from benchmarks import connector_throughput, core_throughput, editor_load, notifier_throughput

core_throughput.main([])
print()
connector_throughput.main([])
print()
notifier_throughput.main([])
print()
editor_load.main([])
