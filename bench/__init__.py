"""tritonsnn benchmark suite (not part of the installed package).

* ``bench/test_cpu_bench.py``: pytest-benchmark CPU tier, every neuron in :mod:`bench.cases`.
* ``python bench/cpu.py``: Leaky fwd+bwd on one CPU thread, tritonsnn vs snnTorch, as a ratio.
* ``python -m bench.gpu``: GPU tier (providers, modes, memory, roofline), JSON under bench/results/.

See bench/README.md.
"""
