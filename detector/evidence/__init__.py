"""Evidence for an episode: annotated frame JPEG, crop JPEG and an optional short MP4 clip."""

from detector.evidence.writer import EvidenceWriter, FrameRing, annotate

__all__ = ["EvidenceWriter", "FrameRing", "annotate"]
