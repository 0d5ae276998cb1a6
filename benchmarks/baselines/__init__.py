"""Standalone scripts users would otherwise write (run as whole processes by the benchmarks; not imported)."""
