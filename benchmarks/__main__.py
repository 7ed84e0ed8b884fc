from benchmarks import core_throughput

core_throughput.main([])
