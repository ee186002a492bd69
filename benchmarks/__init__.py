"""Benchmarks behind every figure in the README.

Each runs alone as ``python -m benchmarks.NAME``.
"""
