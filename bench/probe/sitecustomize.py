"""Imported by every Python process of `bench.run`'s encrypted services (their PYTHONPATH):
records each data-key database lookup (bench/key_loads.py). Inert without BENCH_KEY_LOADS."""

import os

if os.environ.get("BENCH_KEY_LOADS"):
    from bench.key_loads import install

    install(os.environ["BENCH_KEY_LOADS"])
