"""The rules on real pixels (short version of ``python -m bench.real_footage``, which is the full benchmark).

One real clip from ``../shared/videos`` (PETS 2009 campus: pedestrians only) looped to two minutes through
the shipped model: no episode; the same clip with a real trash bag (cut out of a Woosong *valid* photo along
its polygon) pasted at a fixed spot for 72 s: one ``exposed_garbage`` episode, opened by a trash bag; the same
bag pushed to and fro by half its width: none under the current rules (the 3.1 rules opened one); five real
bag photos held still for 40 s: each opens ``exposed_garbage``. Everything is built from ``../shared`` at run
time; nothing of it is kept.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import MODELS

CLIP = "pets2009_campus_480x360.avi"


@pytest.mark.shared
def test_rules_on_real_pixels(shared_dir: Path) -> None:
    from bench.real_footage import run

    model = MODELS / "frontage-n.onnx"
    if not model.exists():
        pytest.fail(f"the shipped model {model} is missing")
    r = run(shared_dir, model, loop_s=120, clip_s=120, still_s=40, stills_per_clip=1, photos_limit=5,
            bag_windows=1, log=lambda _: None, only={CLIP}, photo_sets=("bags",))
    now = r["summary"]["current"]
    assert now["looped_false_episodes"] == 0, r["looped"][CLIP]["current"]
    assert (now["composited_found"], now["composited_false"]) == (1, 0), r["composited"][CLIP]
    opened = r["composited"][CLIP]["current"]["episodes"][0]
    assert opened["category"] == "exposed_garbage" and opened["opened_class"] == "trash_bag"
    assert 0 < opened["opened_score"] <= 1 and len(opened["opened_box"]) == 4
    assert now["swaying_false"] == 0, r["swaying"][CLIP]["current"]
    assert r["summary"]["3.1"]["swaying_false"] >= 1  # what the pixel check is for: box overlap alone took it
    assert now["photos_bags_recall"] == 1.0 and now["photos_bags_false"] == 0, r["photos"]
