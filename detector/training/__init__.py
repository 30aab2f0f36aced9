"""Datasets, training, export and the re-learning loop for Frontage's own detector (``frontage-n``).

- ``frontage dataset build``: one YOLO detection dataset from generated frames, real trash-bag photos,
  teacher-labelled real video frames and copy-paste composites (`detector.training.dataset`).
- ``frontage train`` / ``frontage train evaluate`` / ``frontage train export``: ultralytics, offline,
  resumable in chunks (`detector.training.train`, `evaluate`, `export`).
- ``frontage relearn export``: rejected/confirmed cases from the case service -> a fine-tuning set
  (`detector.training.relearn`).

Heavy imports (torch, ultralytics) stay inside functions so ``frontage --help`` is fast.
"""
