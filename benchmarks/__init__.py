"""Speed and memory benchmarks: ``python -m benchmarks`` (or ``make bench``) runs them all.

Each ``benchmarks/bench_<topic>.py`` defines ``run(quick=False) -> list[dict]``: one dict per
measured case, with at least ``name``, ``value``, ``unit``, and where there is a baseline
``baseline``, ``ratio`` and ``target`` (a string such as "<= 1.2x"). ``quick=True`` shrinks
sizes so the whole suite can be smoke-tested in CI.
"""
