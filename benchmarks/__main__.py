"""`make bench`: every benchmark, one after the other, each printing its table."""

from benchmarks import core_throughput, notifier_throughput

core_throughput.main([])
print()
notifier_throughput.main([])
