"""Procedural street-front scenes with exact ground truth: training stills, sprites and scripted clips.

Pure numpy + OpenCV drawing (text in OpenCV's built-in Hershey fonts), nothing downloaded, deterministic
for a seed. The class list is read from ``models/frontage-n.classes.yaml``.

Public API (stable; other subsystems call these)
-------------------------------------------------

``random_labeled_frames(n, seed, size=(1280, 720)) -> Iterator[LabeledFrame]``
    Independent randomised stills for training: frame ``i`` of seed ``s`` is always the same picture.
    ``LabeledFrame.image`` is H x W x 3 uint8 BGR; ``xyxy`` (N, 4) float32 pixel boxes of the *visible*
    extent (occluded and out-of-frame parts excluded, objects less than 40 % visible skipped);
    ``class_names`` parallel to ``xyxy``; ``meta`` says how the frame was made (camera, look, counts).
    About a quarter of the frames hold no violation object, objects are ~15-330 px tall.

``render_object(class_name, rng, height_px) -> np.ndarray``
    One object on a transparent background, BGRA uint8, ``height_px`` tall and tight to the object, for
    pasting onto real photos (copy-paste augmentation). Same drawing code as the scenes.

``frontage synth --scenario NAME [--seed N] [--duration S] [--fps F] [--size WxH] [--out DIR]``
    (``detector.synth.cli.synth``) a scripted clip: ``DIR/NAME.mp4`` (H.264), ``DIR/NAME.zones.yaml`` and
    ``DIR/NAME.truth.json`` (the format of ``frontage analyze --json``). ``--list`` shows the scenarios.

For evaluation code: ``detector.synth.clip.build_plan(SCENARIOS[name])`` gives the clip's plan without
rendering (``plan.episodes``, ``plan.zones_document()``, ``plan.oracle_boxes(t)``) and
``FrameRenderer(plan).labelled_frame(i)`` a clip frame with visible boxes.

How a scene is made
-------------------
``camera.py``    pinhole camera on a pole above the road, looking at the pavement and shopfronts
``scene.py``     street layout, background (road, kerb, tiled pavement, shop facades, awnings, signs),
                 painter's-order compositing with sun shadows, light/weather/sensor (`Look`)
``objects.py``   a sprite drawer per class (and unlabelled distractors: cars, planters, bollards,
                 lamp posts, trees)
``stills.py``    random scenes and their visible boxes (from a per-pixel object id buffer)
``scenarios.py`` scripted clips as data; ``clip.py`` layout, zones, ground truth, rendering, encoding

Randomised: camera height/pitch/yaw/field of view, street widths, tiles and colours, shop facades and
signs, every object's look and size, time of day (day, overcast, dusk, rain, night), sun direction and
shadow, haze, rain streaks and wet ground, sensor noise, blur, JPEG or H.264 artefacts.

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
