"""Pipelines: `build.build_pipeline` assembles the one pipeline; ``edge`` (live.py: many cameras, outbox sink) and ``analyze`` (offline.py: one file, report sink) run it."""
