"""Prints tritonsnn's speed-ups over the other providers after a CPU benchmark run."""

# (neuron, mode, provider) -> (median, min) seconds, filled by bench/test_cpu_bench.py
RESULTS = {}


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("tritonsnn speed-up: provider time / tritonsnn time, medians (minimums)")
    for (neuron, mode, provider), (median, minimum) in sorted(RESULTS.items()):
        ref = RESULTS.get((neuron, mode, "tritonsnn"))
        if provider == "tritonsnn" or ref is None:
            continue
        write(
            f"{neuron:10s} {mode:8s} vs {provider:9s}: {median / ref[0]:6.2f}x ({minimum / ref[1]:6.2f}x)  "
            f"medians {median * 1e3:.2f} ms vs {ref[0] * 1e3:.2f} ms"
        )
