"""Gating: skip the model while a camera's picture stays the same, or while only passers-by change it
(`detector.gating.motion`; the static-change map of ``mode: static`` is `detector.gating.static`)."""

from detector.gating.motion import MotionGate, MotionGateConfig
from detector.gating.static import StaticChangeConfig, StaticChangeMap

__all__ = ["MotionGate", "MotionGateConfig", "StaticChangeConfig", "StaticChangeMap"]
