"""Benchmarks: scripts that print JSON figures (`make bench`)."""
