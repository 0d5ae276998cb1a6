"""cosrecon's benchmarks: speed, cost and scale, measured against the floor and against the scripts users would
otherwise write. ``python -m benchmarks`` (``make bench``) runs them, prints a table and writes JSON results
under ``benchmarks/results/``. See docs/benchmarks.md."""
