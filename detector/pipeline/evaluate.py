"""Episode-level scoring of an analysis against ground truth (``*.truth.json``).

A predicted episode matches a true one when they have the same zone and category and their starts differ
by at most ``dwell_s + slack_s`` (the zone's dwell: the rules can only report an episode once it has
lasted that long; slack 5 s covers the analysis interval). Matching is one-to-one, greedy by smallest
start difference. Ground truth format: ``{"episodes": [{"zone", "category", "start_s", ...}]}`` (a bare
list is accepted too); each truth episode may carry its own ``dwell_s``, else the zones file's value is
used, else 30 s.

>>> pred = [{"zone": "z1", "category": "exposed_garbage", "start_s": 12.0}]
>>> truth = [{"zone": "z1", "category": "exposed_garbage", "start_s": 10.0},
...          {"zone": "z2", "category": "exposed_garbage", "start_s": 10.0}]
>>> s = score(pred, truth)
>>> s.precision, s.recall, s.matched
(1.0, 0.5, 1)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from detector.zones.schema import ZonesFile


class TruthFileError(ValueError):
    """A ground-truth or analysis file that cannot be read (one line)."""


@dataclass(frozen=True)
class Score:
    predicted: int
    truth: int
    matched: int

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 1.0

    def as_json(self) -> dict[str, float | int]:
        return {"predicted": self.predicted, "truth": self.truth, "matched": self.matched,
                "precision": round(self.precision, 4), "recall": round(self.recall, 4)}


def load_episodes(path: str | Path) -> list[dict]:
    """Episodes of an analysis JSON or a truth JSON."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TruthFileError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TruthFileError(f"{path}: not readable JSON ({exc})") from None
    episodes = data.get("episodes") if isinstance(data, dict) else data
    if not isinstance(episodes, list) or not all(
        isinstance(e, dict) and {"zone", "category", "start_s"} <= e.keys() for e in episodes
    ):
        raise TruthFileError(f"{path}: expected a list of episodes with zone, category and start_s")
    return episodes


def score(predicted: list[dict], truth: list[dict], zones: ZonesFile | None = None, default_dwell_s: float = 30.0,
          slack_s: float = 5.0) -> Score:
    def dwell(t: dict) -> float:
        if t.get("dwell_s") is not None:
            return float(t["dwell_s"])
        if zones is not None:
            zone = next((z for z in zones.zones if z.id == t["zone"]), None)
            if zone is not None:
                return zones.dwell_s(zone)
        return default_dwell_s

    pairs = []
    for i, p in enumerate(predicted):
        for j, t in enumerate(truth):
            if p["zone"] == t["zone"] and p["category"] == t["category"]:
                diff = abs(float(p["start_s"]) - float(t["start_s"]))
                if diff <= dwell(t) + slack_s:
                    pairs.append((diff, i, j))
    used_p: set[int] = set()
    used_t: set[int] = set()
    for _, i, j in sorted(pairs):
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
    return Score(predicted=len(predicted), truth=len(truth), matched=len(used_p))
