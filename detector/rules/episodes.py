"""The episode state machine, one per (camera, zone, category), driven by media time only.

States::

    idle --present--> pending --stationary for >= dwell_s--> active --absent for >= clear_s--> idle
                         ^  |                                   |      (violation_cleared, ended_at = last seen)
                         |  +--no stationary object seen for > grace_s--> idle
                         |                      violation_started (started_at = first seen in this run)
                         |                      violation_updated every `update_every_s` (off by default)

Why "stationary": a bicycle ridden past or goods carried through the zone are present for a few frames
in a row, but never *in the same place*. So a pending run keeps a list of *reference boxes*: the first
box of each object seen in the run. A new detection that overlaps a reference box (IoU >= ``min_iou``,
default 0.3) is the same object still standing there and refreshes that reference's ``last_seen``; a
detection that overlaps none becomes a new reference with its own start time. Dwell is measured per
reference (``last_seen - first_seen``), so only an object that stays put for ``dwell_s`` starts an
episode; a moving object leaves a trail of short-lived references that expire after ``grace_s``. The
reference box is never moved to follow the object, so slow drift does not add up to dwell either.
Missed detections (occlusion, a low-confidence frame) are tolerated for ``grace_s`` while pending.
A detection with the same tracker id as a reference is that reference's object even where the boxes
overlap less (a half-hidden bag: its smaller box inside the first), never once it has left that box.

Box overlap alone lets through things that are *in the zone* without staying (a pushchair pushed to and
fro, a car creeping in traffic) and things the model cannot make up its mind about (a poster read as a bag,
then goods). So under the default `RulePolicy` a reference also needs its pixels to stay the same, to win
the class vote over its dwell, and its score to clear its class's floor; boxes of ``ignore`` classes
(person, bench, ...) suppress lower-scoring violation boxes they overlap. See `detector.rules.policy`.

Once active, any detection of the category in the zone counts as presence (the episode is about the
place, not one object: a chair replaced by another chair is the same violation), and the episode clears
after ``clear_s`` without any. One episode produces exactly one ``violation_started``, at most one
``violation_cleared``, and updates no more often than ``update_every_s``.

Times: ``t`` (seconds, monotonic within a run: media pts for files, wall seconds for live cameras) drives
the machine; ``wall`` (aware datetime) is what goes into the events.

>>> from datetime import datetime, timezone
>>> import numpy as np
>>> from detector.detections import Detections
>>> box = Detections(xyxy=np.array([[10, 10, 20, 20]], np.float32), confidence=np.array([0.8], np.float32),
...                  class_id=np.array([0]), class_names=("chair",)).with_data(category=np.array(["out_of_store_trading"], object))
>>> m = EpisodeState("cam", "z", None, "out_of_store_trading", RuleSettings(dwell_s=3, clear_s=2, grace_s=1))
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
>>> wall = lambda t: datetime.fromtimestamp(t0 + t, timezone.utc)
>>> [e.type.value for t in range(5) for e in m.update(box, float(t), wall(t))]
['violation_started']
>>> [e.type.value for t in range(5, 9) for e in m.update(box[[]], float(t), wall(t))]
['violation_cleared']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from detector.categories import IGNORE
from detector.classmap import zone_categories
from detector.detections import Detections
from detector.events import EventType
from detector.rules.policy import RulePolicy, box_crop, crop_change
from detector.zones.polygon import PolygonZone
from detector.zones.schedule import permitted
from detector.zones.schema import Zone, ZonesFile

TRACK_MIN_INSIDE = 0.8  # share of the smaller box inside the other for a same-track detection to match
# A followed thing the last model run missed (an open episode's object, or a reference seen twice): the rules
# ask for a fresh run on the next frame, and while it stays missed, again after 1, 2, 4, 8 ... media seconds
# (a passer-by or a parked van in front of it for a while), and when a decision is due (clear_s, grace_s: held
# frames cannot clear). Asking on every frame until the episode cleared was 40 of the 58 model runs on
# market-street-day (issue 18); giving up after two misses lost a stacked-materials episode on rainy-lane.
def _backoff_s(missed_runs: int) -> float:
    return 0.0 if missed_runs < 2 else float(2 ** (missed_runs - 2))


def box_inside(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)): share of the smaller box of each pair that lies inside the other (1 = nested)."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)), np.float32)
    iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return (iw * ih / np.maximum(np.minimum(area_a[:, None], area_b[None, :]), 1e-9)).astype(np.float32)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (len(a), len(b)) of xyxy boxes."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)), np.float32)
    a = a[:, None, :]
    b = b[None, :, :]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return (inter / np.maximum(area_a + area_b - inter, 1e-9)).astype(np.float32)


@dataclass(frozen=True)
class RuleSettings:
    """Timing of one zone's episodes (from the zones file: zone values, else file defaults)."""

    dwell_s: float = 30.0
    clear_s: float = 20.0
    grace_s: float = 10.0
    min_iou: float = 0.3
    update_every_s: float | None = None  # None: no violation_updated events


@dataclass
class EpisodeEvent:
    """What the rules decided; the pipeline turns it into a `detector.events.ViolationEvent`."""

    type: EventType
    seq: int
    camera: str
    zone: str
    merchant: str | None
    category: str
    started_t: float
    started_at: datetime
    observed_t: float
    observed_at: datetime
    ended_t: float | None
    ended_at: datetime | None
    confidence: float
    detections: Detections  # the offending detections of the frame this event was decided on (started: opener first)
    frame_wh: tuple[int, int] | None = None  # (width, height) of that frame


@dataclass
class FrameView:
    """What every state of one zone sees of a frame besides its own category's detections."""

    image: np.ndarray | None  # the frame (BGR or grey) for the pixel check (None: no image given)
    xyxy: np.ndarray  # (N, 4) every detection of the frame that passed the score floors, ignore classes included
    categories: np.ndarray  # (N,) their zone categories ("ignore" for ignore classes)
    tracker_id: np.ndarray | None  # (N,) or None


@dataclass
class _Ref:
    box: np.ndarray
    first_t: float
    first_wall: datetime
    last_t: float
    tracks: set[int] = field(default_factory=set)  # tracker ids seen on it
    anchor: np.ndarray | None = None  # grey crop it should keep looking like
    previous: np.ndarray | None = None  # the crop of the last observation
    still: int = 0  # observations that looked like the anchor
    observed: int = 0
    own_votes: int = 0  # frames in which the object at the box was read as this category
    other_votes: int = 0  # ... as another category or an ignore class
    index: int = -1  # which detection of this frame matched it (-1: none)

    def still_share(self) -> float:
        return self.still / self.observed if self.observed else 1.0

    def vote_share(self) -> float:
        votes = self.own_votes + self.other_votes
        return self.own_votes / votes if votes else 1.0


@dataclass
class EpisodeState:
    """State machine of one (camera, zone, category)."""

    camera: str
    zone: str
    merchant: str | None
    category: str
    settings: RuleSettings
    policy: RulePolicy = field(default_factory=RulePolicy.legacy)
    state: str = "idle"  # idle | pending | active
    refs: list[_Ref] = field(default_factory=list)
    started_t: float = 0.0
    started_at: datetime | None = None
    last_seen_t: float = 0.0
    last_seen_wall: datetime | None = None
    last_update_t: float = 0.0
    seq: int = 0
    confidence: float = 0.0
    last_detections: Detections | None = None
    # the last model run lost what this state follows (an open episode's object, or a reference seen at least
    # twice): the camera's next frame should go through the model rather than hold that "absent" result
    missing: bool = False
    missed_runs: int = 0  # fresh runs in a row that missed it
    next_look_t: float = 0.0  # when to ask for the next fresh run while it stays missed
    prev_t: float | None = None  # the previous frame's time: a look asked for now happens one frame later

    def _event(self, type_: EventType, t: float, wall: datetime, dets: Detections, ended: bool = False) -> EpisodeEvent:
        assert self.started_at is not None
        return EpisodeEvent(
            type=type_, seq=self.seq, camera=self.camera, zone=self.zone, merchant=self.merchant,
            category=self.category, started_t=self.started_t, started_at=self.started_at,
            observed_t=t, observed_at=wall, ended_t=self.last_seen_t if ended else None,
            ended_at=self.last_seen_wall if ended else None, confidence=self.confidence, detections=dets,
        )

    def update(self, present: Detections, t: float, wall: datetime, view: FrameView | None = None,
               fresh: bool = True) -> list[EpisodeEvent]:
        """Feed this category's detections inside the zone at time ``t``; returns the events it causes.

        ``view`` (the whole frame's detections and a grey copy) feeds the class vote and the pixel check.
        ``fresh`` False: the gate skipped the model and ``present`` is the last run's result held over. Such a
        frame advances time and what it holds still counts as there, but it is no observation: no vote, no pixel
        check, and an absence in it neither clears an episode nor expires a reference (one run with a passer-by
        in front of the object would otherwise count as its absence until the next run).
        """
        s = self.settings
        step = t - self.prev_t if self.prev_t is not None and t > self.prev_t else 0.0
        self.prev_t = t

        def due(when: float) -> bool:  # asked for on this frame, the look is the next frame, one step later
            return t + step >= when - 1e-6

        if self.state == "active":
            if fresh:
                self.missed_runs = 0 if len(present) else self.missed_runs + 1
                self.next_look_t = t + _backoff_s(self.missed_runs)
            if len(present):
                self.missing = False
                self.last_seen_t, self.last_seen_wall = t, wall
                self.confidence = max(self.confidence, float(present.confidence.max()))
                self.last_detections = present
                if s.update_every_s and t - self.last_update_t >= s.update_every_s:
                    self.seq += 1
                    self.last_update_t = t
                    return [self._event(EventType.UPDATED, t, wall, present)]
                return []
            if fresh and t - self.last_seen_t >= s.clear_s:
                self.seq += 1
                event = self._event(EventType.CLEARED, t, wall, self.last_detections or present, ended=True)
                self._reset()
                return [event]
            # missed: look again, less and less often, and when the clear decision is due (held frames cannot clear)
            self.missing = due(self.next_look_t) or due(self.last_seen_t + s.clear_s)
            return []

        # idle / pending: match detections to reference boxes of this run
        for r in self.refs:
            r.index = -1
        if len(present):
            ref_boxes = np.array([r.box for r in self.refs], np.float32).reshape(-1, 4)
            iou = box_iou(present.xyxy, ref_boxes)
            inside = box_inside(present.xyxy, ref_boxes)
            tids = present.tracker_id
            for i in range(len(present)):
                tid = int(tids[i]) if tids is not None else -1
                # the same track is the same object even where a half-hidden box overlaps its first box little,
                # but never one that has left it: the reference stays "in the same place"
                same_track = [k for k, r in enumerate(self.refs)
                              if tid >= 0 and tid in r.tracks and inside[i, k] >= TRACK_MIN_INSIDE]
                j = same_track[0] if same_track else (int(iou[i].argmax()) if iou.shape[1] else -1)
                if j >= 0 and (same_track or iou[i, j] >= s.min_iou):
                    ref = self.refs[j]
                    ref.last_t = t
                else:
                    ref = _Ref(box=present.xyxy[i].copy(), first_t=t, first_wall=wall, last_t=t)
                    self.refs.append(ref)
                if ref.index < 0 or present.confidence[i] > present.confidence[ref.index]:
                    ref.index = i
                if tid >= 0:
                    ref.tracks.add(tid)
        if fresh:
            # references not seen for longer than the grace period are gone (moved on, or never stayed)
            self.refs = [r for r in self.refs if t - r.last_t <= s.grace_s]
            lost = any(r.index < 0 and r.last_t > r.first_t for r in self.refs)
            self.missed_runs = self.missed_runs + 1 if lost else 0
            self.next_look_t = t + _backoff_s(self.missed_runs)
            self.missing = lost and due(self.next_look_t)
            if view is not None:
                self._observe(view)
        else:  # a lost reference: look again in time, and when its grace period is over (it expires at a fresh run)
            lost = [r for r in self.refs if r.last_t > r.first_t and r.last_t < t]
            self.missing = bool(lost) and (due(self.next_look_t) or any(due(r.last_t + s.grace_s) for r in lost))
        self.state = "pending" if self.refs else "idle"
        if len(present):
            self.confidence = max(self.confidence, float(present.confidence.max()))
        elif not self.refs:
            self.confidence = 0.0
        p = self.policy
        ready = [r for r in self.refs if r.last_t == t and r.last_t - r.first_t >= s.dwell_s
                 and r.still_share() >= p.min_still_share and r.vote_share() >= p.min_vote_share]
        if not ready:
            return []
        first = min(ready, key=lambda r: r.first_t)
        self.state = "active"
        self.started_t, self.started_at = first.first_t, first.first_wall
        self.last_seen_t, self.last_seen_wall = t, wall
        self.last_update_t = t
        self.seq = 0
        # the object that opened the episode goes first: the analysis report names it
        order = [first.index] + [i for i in range(len(present)) if i != first.index]
        opened = present[np.array(order)]
        self.last_detections = opened
        self.refs = []
        self.missing = False
        self.missed_runs = 0
        return [self._event(EventType.STARTED, t, wall, opened)]

    def _observe(self, view: FrameView) -> None:
        """Class vote and pixel check of every reference on this frame."""
        p = self.policy
        if not self.refs:
            return
        boxes = np.array([r.box for r in self.refs], np.float32)
        if p.min_vote_share > 0 and len(view.xyxy):
            iou = box_iou(boxes, view.xyxy)
            for k, r in enumerate(self.refs):
                # this frame's reading of the object: its own track, else the detection overlapping it most
                tracked = ([j for j in range(len(view.xyxy)) if int(view.tracker_id[j]) in r.tracks]
                           if view.tracker_id is not None and r.tracks else [])
                j = tracked[0] if tracked else int(iou[k].argmax())
                if tracked or iou[k, j] >= p.vote_iou:
                    if view.categories[j] == self.category:
                        r.own_votes += 1
                    else:
                        r.other_votes += 1
        if p.pixel_check and view.image is not None:
            ignore = view.categories == IGNORE
            hidden = (box_inside(boxes, view.xyxy[ignore]).max(axis=1) >= p.hidden_share if ignore.any()
                      else np.zeros(len(boxes), bool))
            for r, behind in zip(self.refs, hidden, strict=True):
                if behind and r.index < 0:
                    continue  # not seen, and a person (or other ignore class) stands over it: no verdict either way
                crop = box_crop(view.image, r.box)
                if crop is None:
                    continue
                if r.anchor is None:
                    r.anchor = crop
                r.observed += 1
                if crop_change(crop, r.anchor) <= p.max_crop_change:
                    r.still += 1
                elif crop_change(crop, r.previous) <= p.max_crop_change:
                    # two observations agree with each other but not with the anchor: the anchor frame was the
                    # odd one out (someone passing in front of it) or the object has settled; look for this now
                    r.anchor = crop
                r.previous = crop

    def close_open(self) -> EpisodeEvent | None:
        """End of a finite run: forget the state; an active episode stays open (no cleared event)."""
        self._reset()
        return None

    def _reset(self) -> None:
        self.state = "idle"
        self.missing = False
        self.missed_runs = 0
        self.refs = []
        self.started_at = None
        self.seq = 0
        self.confidence = 0.0
        self.last_detections = None


class RuleEngine:
    """All zones × categories of one camera: categorised detections in, episode events out."""

    def __init__(self, zones: ZonesFile, camera: str | None = None, update_every_s: float | None = None,
                 min_iou: float = 0.3, policy: RulePolicy | None = None) -> None:
        self.zones_file = zones
        self.camera = camera or zones.camera
        self.update_every_s = update_every_s
        self.min_iou = min_iou
        self.policy = policy if policy is not None else RulePolicy()
        self._geometry: dict[tuple[str, tuple[int, int]], PolygonZone] = {}
        self.states: dict[tuple[str, str], EpisodeState] = {}
        self._settings = {z.id: self.settings_for(z) for z in zones.zones}

    def settings_for(self, zone: Zone) -> RuleSettings:
        zf = self.zones_file
        return RuleSettings(dwell_s=zf.dwell_s(zone), clear_s=zf.clear_s(zone), grace_s=zf.defaults.grace_s,
                            min_iou=self.min_iou, update_every_s=self.update_every_s)

    def polygon(self, zone: Zone, frame_wh: tuple[int, int]) -> PolygonZone:
        key = (zone.id, frame_wh)
        pz = self._geometry.get(key)
        if pz is None:
            pz = PolygonZone(zone, frame_wh, anchor=self.zones_file.defaults.anchor)  # type: ignore[arg-type]
            self._geometry[key] = pz
        return pz

    def screen(self, detections: Detections) -> tuple[Detections, Detections]:
        """(violation boxes the rules should consider, every box of the frame).

        Ignore-class boxes are never violations but stay in the second set: they vote and suppress.
        """
        seen = detections
        is_ignore = detections.data["category"] == IGNORE
        p = self.policy
        violation = ~is_ignore
        if p.suppress_iou is not None and is_ignore.any() and violation.any():
            iou = box_iou(seen.xyxy[violation], seen.xyxy[is_ignore])
            stronger = seen.confidence[is_ignore][None, :] >= seen.confidence[violation][:, None]
            violation[np.flatnonzero(violation)[((iou >= p.suppress_iou) & stronger).any(axis=1)]] = False
        return seen[violation], seen

    def update(self, detections: Detections, t: float, wall: datetime, frame_wh: tuple[int, int],
               image: np.ndarray | None = None, fresh: bool = True) -> list[EpisodeEvent]:
        """``detections`` must carry ``data["category"]`` (see `detector.classmap.ClassMap.apply`; pass
        ``keep_ignored=True`` so that ignore classes can vote and suppress). ``image`` (the frame, BGR or grey)
        feeds the pixel check; without it the rules fall back to box overlap. ``fresh`` False: ``detections``
        are the last model run's, held over by the gate (see `EpisodeState.update`)."""
        events: list[EpisodeEvent] = []
        if len(detections) and "category" in detections.data:
            detections, seen = self.screen(detections)
        else:
            seen = detections
        categories = detections.data.get("category", np.array([], dtype=object))
        seen_categories = seen.data.get("category", np.array([], dtype=object))
        image = image if self.policy.pixel_check else None
        for zone in self.zones_file.zones:
            inside = self.polygon(zone, frame_wh).trigger(detections) if len(detections) else np.zeros(0, bool)
            in_zone_cats = zone_categories(categories[inside], zone.merchant is not None) if len(detections) else categories
            in_zone = detections[inside] if len(detections) else detections
            for category in zone.forbid:
                cat = str(category)
                key = (zone.id, cat)
                state = self.states.get(key)
                present = in_zone[in_zone_cats == cat] if len(in_zone) else in_zone
                if zone.permits and len(present) and permitted(zone.permits, cat, wall, self.zones_file.timezone):
                    present = present[np.zeros(len(present), bool)]  # permitted now (schedule): counts as absent
                if state is None:
                    if not len(present):
                        continue  # nothing ever seen: no state to keep
                    state = EpisodeState(self.camera, zone.id, zone.merchant, cat, self._settings[zone.id],
                                         policy=self.policy)
                    self.states[key] = state
                view = None
                if state.state != "active":
                    view = FrameView(image=image, xyxy=seen.xyxy,
                                     categories=zone_categories(seen_categories, zone.merchant is not None),
                                     tracker_id=seen.tracker_id)
                events.extend(state.update(present, t, wall, view, fresh=fresh))
        for e in events:
            e.frame_wh = frame_wh
        return events

    def open_episodes(self) -> list[EpisodeState]:
        return [s for s in self.states.values() if s.state == "active"]

    @property
    def missing(self) -> bool:
        """The last model run lost something the rules follow (an open episode's object, or a thing that stood
        in a zone): look again on the next frame instead of holding that result (`Batcher.verify`)."""
        return any(s.missing for s in self.states.values())
