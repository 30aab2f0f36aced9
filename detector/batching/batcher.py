"""Batching: the due frames of all cameras go through the one model instance in as few calls as possible.

Live (``LiveCamera``)::

    batcher = Batcher(backend, BatchConfig(max_batch=8, max_wait_ms=50), gate=MotionGateConfig(), trackers=CameraTrackers())
    while running:
        for result in batcher.step(cameras):      # waits for frames, one backend.infer per batch
            rules.feed(result.frame, result.detections)

Offline (files, each ``Source.frames()`` iterator)::

    for results in batcher.iter_sources(sources):  # one round: the next frame of every source
        ...

Frames the motion gate skips come back with the camera's previous detections (``inferred=False``), so the
rules see an unbroken series (and know which frames are held). :meth:`Batcher.verify` makes a camera's next
frame go through the model whatever its gate says: the pipeline asks for it while the last run lost something
the rules follow, so that one run with a passer-by in front of a parked bike is not held as its absence.

Zone crop (``BatchConfig.zone_crop``, `detector.zones.region`): a camera whose zones were given with
:meth:`Batcher.follow_zones` is gated and inferred on the rectangle of its zones only (plus margins, at the
whole frame's gain); its boxes come back in full-frame pixels before the tracker, so nothing after the batcher
knows. The results carry the full frames.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from detector import metrics
from detector.batching.config import BatchConfig
from detector.detections import Detections
from detector.frames import Frame
from detector.gating import MotionGate, MotionGateConfig
from detector.inference import Backend
from detector.tracking import CameraTrackers
from detector.zones.region import Region, ZoneRegions
from detector.zones.schema import ZonesFile

GOLDEN_RATIO_FRACTION = 0.6180339887498949  # successive multiples mod 1 stay evenly spread


@dataclass(frozen=True)
class AnalysedFrame:
    frame: Frame
    detections: Detections
    inferred: bool  # False: the motion gate skipped the model and `detections` are the previous ones


class FrameProvider(Protocol):
    """What the batcher needs of a live camera (``detector.sources.live.LiveCamera`` is one)."""

    camera_id: str

    def latest(self) -> Frame | None: ...


class Batcher:
    """Gathers frames into batches of at most ``max_batch`` and runs ``backend.infer`` once per batch.

    ``config``: :class:`BatchConfig` (``overrides`` replace its fields: ``Batcher(backend, max_batch=2)``);
    ``max_wait_ms``: once one frame is due, how long to wait for the other cameras' frames before running
    a partial batch. ``gate``: motion gating config (None: infer every frame). ``trackers``: per-camera
    tracking applied to every result (None: no tracking). ``poll_s``: while waiting, how often the cameras are
    looked at again when none calls :meth:`wake`; cameras that do (``LiveCamera.on_frame = batcher.wake``) end
    the wait at once, so the edge polls rarely (each look takes every camera's lock: at 5 ms and 40 cameras that
    was 8,000 lock round trips a second on an idle box).
    """

    def __init__(
        self,
        backend: Backend,
        config: BatchConfig | None = None,
        *,
        gate: MotionGateConfig | None = None,
        trackers: CameraTrackers | None = None,
        poll_s: float = 0.005,
        **overrides: object,
    ) -> None:
        if poll_s <= 0:
            raise ValueError(f"poll_s must be > 0, got {poll_s}")
        self.config = (config or BatchConfig()).model_copy(update=overrides)
        self.backend = backend
        self.poll_s = poll_s
        self.max_wait_s = self.config.max_wait_ms / 1000.0
        self.gate_config = gate
        self.trackers = trackers
        self.gates: dict[str, MotionGate] = {}
        self.last: dict[str, Detections] = {}
        self.batches = 0
        self.frames_inferred = 0
        self.frames_skipped = 0
        self.frames_verified = 0  # of frames_inferred, those the gate would have skipped (verify)
        self.model_pixels = 0  # canvas pixels the model ran on, all frames (what the zone crop saves)
        self.regions: dict[str, ZoneRegions] = {}  # camera -> its zones' region (follow_zones)
        self._rotation = 0
        self._wake = threading.Event()
        self._verify: set[str] = set()  # cameras whose next frame goes through the model whatever the gate says

    @property
    def max_batch(self) -> int:
        """The configured batch size, capped by the backend's (a model reloaded with a smaller one caps it too)."""
        return max(1, min(self.config.max_batch, self.backend.max_batch))

    @property
    def collect_max(self) -> int:
        """Frames one round takes: ``max_collect`` when a gate will skip most of them, else one batch."""
        gated = self.gate_config is not None and self.gate_config.enabled
        return max(self.max_batch, self.config.max_collect) if gated else self.max_batch

    # -- zone crop ------------------------------------------------------------------------------------
    def follow_zones(self, camera_id: str, zones: Callable[[], ZonesFile]) -> None:
        """Infer ``camera_id`` on its zones' region (when ``zone_crop`` is enabled); ``zones`` gives the zones in
        use now (called per frame: a replaced zones file moves the region from the next frame on)."""
        self.regions[camera_id] = ZoneRegions(zones, self.config.zone_crop)

    def region(self, frame: Frame) -> Region | None:
        """The part of ``frame`` the gate and the model see; None: all of it."""
        regions = self.regions.get(frame.camera_id)
        if regions is None:
            return None
        stride = int(getattr(self.backend, "stride", 32))
        region = regions.region(frame.size, imgsz=self.backend.imgsz, stride=stride)
        if region is None:
            return None
        # Only where the backend takes the window as it is (no rescale, no border) is it the same pixels per
        # object in fewer pixels: a fixed-shape model, a square canvas or upscale would enlarge it.
        w, h = region.window[2:]
        shape = np.broadcast_to(np.uint8(0), (h, w, 3))  # a shape, no pixels
        return region if tuple(self.backend.input_size([shape])) == (h, w) else None

    def privacy_detections(self, frame: Frame, detections: Detections) -> Detections:
        """``detections`` of ``frame`` and, when its model input was a crop, the whole frame's people and
        vehicles outside the crop: the evidence's privacy boxes must cover everyone in the picture. One more
        model call per evidence frame (an episode's start or update), none without a crop."""
        region = self.region(frame)
        if region is None:
            return detections
        (whole,) = self.backend.infer([frame.image])
        b = whole.xyxy
        inside = (b[:, 0] >= region.x1 - 1) & (b[:, 1] >= region.y1 - 1) & (b[:, 2] <= region.x2 + 1) & (
            b[:, 3] <= region.y2 + 1)
        return Detections.merge([detections, whole[~inside]]) if (~inside).any() else detections

    def verify(self, camera_id: str) -> None:
        """Run the model on ``camera_id``'s next frame even if its gate would skip it (once; ask again to
        keep looking)."""
        self._verify.add(camera_id)

    # -- inference on given frames --------------------------------------------------------------------
    def _gate(self, camera_id: str) -> MotionGate | None:
        if self.gate_config is None or not self.gate_config.enabled:
            return None
        gate = self.gates.get(camera_id)
        if gate is None:
            # Spread the cameras' forced re-checks over max_skip_s: the k-th camera seen gets phase
            # frac(k * golden ratio), even for any number of cameras; the first (and a lone file) gets 0.
            phase = (len(self.gates) * GOLDEN_RATIO_FRACTION) % 1.0
            gate = self.gates[camera_id] = MotionGate(self.gate_config, phase=phase)
        return gate

    def infer(self, frames: Sequence[Frame]) -> list[AnalysedFrame]:
        """Gate, infer (in chunks of ``max_batch``) and track; results in the order of ``frames``."""
        due: list[int] = []
        results: list[AnalysedFrame | None] = [None] * len(frames)
        regions = [self.region(frame) for frame in frames]
        # what the gate looks at: the frame, or its region (passers-by outside it wake nothing); the same object
        # goes to should_infer and mark_inferred, so the gate's small picture is made once
        seen = [f if r is None else replace(f, image=r.crop(f.image)) for f, r in zip(frames, regions, strict=True)]
        for i, frame in enumerate(frames):
            gate = self._gate(frame.camera_id)
            # the gate is asked even when verifying: in static mode it must see every frame (mark_inferred feeds it
            # the same frame once more for nothing)
            wanted = frame.camera_id in self._verify
            self._verify.discard(frame.camera_id)
            if gate is None or frame.camera_id not in self.last or gate.should_infer(seen[i]):
                due.append(i)
            elif wanted:
                due.append(i)
                self.frames_verified += 1
            else:
                results[i] = AnalysedFrame(frame, self.last[frame.camera_id], inferred=False)
                self.frames_skipped += 1
                metrics.FRAMES_SKIPPED.labels(frame.camera_id).inc()
        # Frames that the backend letterboxes into the same canvas share a batch: a batch of mixed sizes goes
        # into the largest canvas, so a camera run smaller on purpose (analysis_width 480 under a 640 model)
        # would pay for the padding. A fixed-shape model has one canvas.
        # A zone crop has a canvas of its own, so it batches with frames and crops of the same canvas only.
        images = {i: frames[i].image if (r := regions[i]) is None else r.model_input(frames[i].image) for i in due}
        groups: dict[tuple[int, int], list[int]] = {}
        canvas: dict[int, tuple[int, int]] = {}
        for i in due:
            canvas[i] = self.backend.input_size([images[i]])
            groups.setdefault(canvas[i], []).append(i)
        chunks = [g[s : s + self.max_batch] for g in groups.values() for s in range(0, len(g), self.max_batch)]
        for chunk in chunks:
            t0 = time.perf_counter()
            detections = self.backend.infer([images[i] for i in chunk])
            metrics.INFERENCE_SECONDS.labels(self.backend.backend).observe(time.perf_counter() - t0)
            metrics.BATCH_SIZE.observe(len(chunk))
            self.batches += 1
            for i, det in zip(chunk, detections, strict=True):
                frame = frames[i]
                self.model_pixels += canvas[i][0] * canvas[i][1]
                region = regions[i]
                if region is not None:  # back to full-frame pixels before anything else sees the boxes
                    det = region.to_frame(det, frame.size)
                if self.trackers is not None:
                    det = self.trackers.update(frame.camera_id, det, frame.pts_s)
                gate = self._gate(frame.camera_id)
                if gate is not None:
                    gate.mark_inferred(seen[i])
                self.last[frame.camera_id] = det
                results[i] = AnalysedFrame(frame, det, inferred=True)
                self.frames_inferred += 1
                metrics.FRAMES_ANALYSED.labels(frame.camera_id).inc()
        return [r for r in results if r is not None]

    # -- live cameras ---------------------------------------------------------------------------------
    def wake(self) -> None:
        """Call when a camera has a new frame (``LiveCamera.on_frame``) to end a wait early."""
        self._wake.set()

    def collect(self, cameras: Sequence[FrameProvider], timeout: float = 1.0) -> list[Frame]:
        """The latest frame of as many cameras as possible: waits up to ``timeout`` s for the first one, then
        at most ``max_wait_ms`` for the others (or until every camera has given one or the round is full:
        :attr:`collect_max` frames). Cameras are served round robin (each round starts after the last camera
        served), so more cameras than a round takes still all get turns, none waiting more than its share."""
        if not cameras:
            return []
        start_at = self._rotation % len(cameras)
        order = list(cameras[start_at:]) + list(cameras[:start_at])
        cap = self.collect_max
        taken: dict[str, Frame] = {}
        start = time.monotonic()
        deadline = start + timeout
        while True:
            self._wake.clear()
            for k, cam in enumerate(order):
                if len(taken) >= cap:
                    break
                if cam.camera_id not in taken:
                    frame = cam.latest()
                    if frame is not None:
                        taken[cam.camera_id] = frame
                        # round robin: the next round starts after the last camera served, so that with more
                        # ready cameras than a round takes, each waits at most len(cameras) / cap rounds
                        self._rotation = start_at + k + 1
                        if len(taken) == 1:
                            deadline = min(deadline, time.monotonic() + self.max_wait_s)
            if len(taken) >= min(cap, len(order)):
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._wake.wait(min(remaining, self.poll_s))
        return list(taken.values())

    def step(self, cameras: Sequence[FrameProvider], timeout: float = 1.0) -> list[AnalysedFrame]:
        """One collect + infer round (empty when no camera gave a frame within ``timeout``)."""
        frames = self.collect(cameras, timeout)
        return self.infer(frames) if frames else []

    def run(
        self,
        cameras: Sequence[FrameProvider],
        on_results: Callable[[list[AnalysedFrame]], None],
        stop: threading.Event,
    ) -> None:
        """Loop :meth:`step` until ``stop`` is set."""
        while not stop.is_set():
            results = self.step(cameras, timeout=0.5)
            if results:
                on_results(results)

    # -- offline sources ------------------------------------------------------------------------------
    def iter_sources(self, frame_iters: Iterable[Iterable[Frame]]) -> Iterator[list[AnalysedFrame]]:
        """Round-robin over frame iterators (e.g. ``[s.frames() for s in sources]``): each round takes the next
        frame of every iterator that has one and infers them together; ends when all are exhausted."""
        iters = [iter(it) for it in frame_iters]
        while iters:
            frames: list[Frame] = []
            alive = []
            for it in iters:
                frame = next(it, None)
                if frame is not None:
                    frames.append(frame)
                    alive.append(it)
            iters = alive
            if frames:
                yield self.infer(frames)
