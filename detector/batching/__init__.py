"""Batching: the due frames of all cameras through the one model (`detector.batching.batcher`)."""

from detector.batching.batcher import AnalysedFrame, Batcher, FrameProvider
from detector.batching.config import BatchConfig

__all__ = ["AnalysedFrame", "BatchConfig", "Batcher", "FrameProvider"]
