"""Procedural street-front scenes with exact ground truth: training stills, sprites and scripted clips.

Public API (stable; other subsystems call these):

- ``random_labeled_frames(n, seed, size=(1280, 720)) -> Iterator[LabeledFrame]``: independent randomised
  stills for training. ``LabeledFrame.image`` is H x W x 3 uint8 BGR, ``xyxy`` (N, 4) float32 pixel boxes of
  the visible extent, ``class_names`` parallel to ``xyxy``, ``meta`` how the frame was made.
- ``render_object(class_name, rng, height_px) -> np.ndarray``: one object, BGRA uint8, tight, for pasting
  onto real photos (copy-paste augmentation).
- ``frontage synth --scenario NAME ...`` (``detector.synth.cli.synth``): a scripted clip with its zones file
  and ground-truth episodes.

The class list comes from ``models/frontage-n.classes.yaml``. Everything is pure numpy + OpenCV and
deterministic for a seed.

>>> import numpy as np
>>> frame = next(random_labeled_frames(1, seed=0, size=(320, 180)))
>>> frame.image.shape
(180, 320, 3)
>>> render_object("chair", np.random.default_rng(0), 40).shape[2]
4
"""

from detector.synth.classes import class_names
from detector.synth.objects import render_object
from detector.synth.stills import LabeledFrame, random_labeled_frames

__all__ = ["LabeledFrame", "class_names", "random_labeled_frames", "render_object"]
