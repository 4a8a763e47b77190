"""brainsync benchmarks: ``python -m bench --size 10000`` (not tests; run on purpose)."""
