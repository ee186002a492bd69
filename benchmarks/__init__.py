"""Benchmarks behind every figure in the README; each runs alone as ``python -m benchmarks.NAME``."""
