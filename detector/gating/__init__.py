"""Motion gating: skip the model while a camera's picture stays the same (`detector.gating.motion`)."""

from detector.gating.motion import MotionGate, MotionGateConfig

__all__ = ["MotionGate", "MotionGateConfig"]
