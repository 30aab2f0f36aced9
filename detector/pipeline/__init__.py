"""Pipelines: ``analyze`` (offline, one video) and ``edge`` (live, many cameras), sharing `CameraAnalyzer`."""
