"""Tests of ``bench/memory.py`` itself, with tiny shapes (each provider's memory runs in a
subprocess).

    python -m pytest bench/test_memory_script.py

Not part of the default ``pytest`` run (``testpaths = ["tests"]``).
"""

import json

from bench import memory


def _run(capsys, *extra):
    # Tensors of 128 KiB and more are mapped on their own (see memory.py), so they show in the RSS.
    status = memory.main(["--T", "64", "--B", "8", "--N", "256", "--chunk", "16", "--repeats", "1", *extra])
    out = capsys.readouterr().out
    assert status == 0
    return out, json.loads(out.strip().splitlines()[-1])["results"]


def test_chunking_saves_memory_and_every_provider_reports(capsys):
    out, results = _run(capsys, "--providers", "plain,packed,chunked,chunked+packed,loop")
    assert set(results) == {"plain", "packed", "chunked", "chunked+packed", "loop"}
    assert all(r["error"] is None and r["fwd_bwd_ms"] > 0 for r in results.values())
    assert results["chunked"]["activation_bytes"] < results["plain"]["activation_bytes"]
    assert results["packed"]["activation_bytes"] < results["plain"]["activation_bytes"]
    assert "fresh process per provider" in out


def test_unknown_provider_is_refused(capsys):
    assert memory.main(["--providers", "plain,nope"]) == 2
