"""Frontage benchmarks (``python bench/run.py``): each module measures the project's own code against a
baseline taken in the same run. See BENCHMARKS.md for the figures and how to read them."""
