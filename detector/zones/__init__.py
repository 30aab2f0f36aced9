"""Responsibility zones: which detections stand where (schema in `schema.py`, geometry in `polygon.py`)."""
