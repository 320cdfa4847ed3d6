"""Benchmarks that compare mlbridge with the ways people serve models without it."""
