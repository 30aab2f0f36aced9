"""Prometheus metrics of the edge runtime, in their own registry (no process/GC noise, test-friendly).

Sources, the batcher and the uplink update these; ``start_metrics_server(port)`` exposes them at
``http://<metrics_host>:<port>/metrics`` (127.0.0.1 unless edge.yaml says otherwise).

>>> FRAMES_ANALYSED.labels("cam-01").inc()
>>> b"frontage_frames_analysed_total" in render()
True
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)

FRAMES_ANALYSED = Counter(
    "frontage_frames_analysed", "Frames that went through the model, per camera", ["camera"], registry=REGISTRY
)
FRAMES_SKIPPED = Counter(
    "frontage_frames_skipped", "Frames the motion gate let pass without inference", ["camera"], registry=REGISTRY
)
FRAMES_DROPPED = Counter(
    "frontage_frames_dropped",
    "Frames overwritten in a camera's latest-frame slot before analysis",
    ["camera"],
    registry=REGISTRY,
)
DECODE_LAG = Gauge(
    "frontage_decode_lag_seconds", "Time a frame waited between decode and analysis", ["camera"], registry=REGISTRY
)
CAMERA_HEALTHY = Gauge("frontage_camera_healthy", "1 while the camera delivers frames", ["camera"], registry=REGISTRY)
RECONNECTS = Counter("frontage_camera_reconnects", "Reconnect attempts per camera", ["camera"], registry=REGISTRY)
INFERENCE_SECONDS = Histogram(
    "frontage_inference_seconds",
    "Wall time of one backend.infer call (one batch)",
    ["backend"],
    buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
    registry=REGISTRY,
)
BATCH_SIZE = Histogram(
    "frontage_batch_size",
    "Frames per inference batch",
    buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32),
    registry=REGISTRY,
)
OUTBOX_DEPTH = Gauge("frontage_outbox_depth", "Events waiting in the uplink outbox", registry=REGISTRY)
OUTBOX_DEAD = Gauge("frontage_outbox_dead", "Events the service refused for good", registry=REGISTRY)


def render() -> bytes:
    """The metrics in Prometheus text format (what /metrics serves)."""
    return generate_latest(REGISTRY)


def start_metrics_server(port: int, host: str = "127.0.0.1") -> tuple[str, int]:
    """Serve /metrics on ``host:port`` from a daemon thread (returns at once) with the bound (address, port).

    Loopback by default: the counters name every camera, so exposing them beyond the box is a choice
    (edge.yaml ``metrics_host``), not an accident."""
    server, _thread = start_http_server(port, addr=host, registry=REGISTRY)
    address, bound_port = server.server_address[:2]
    return str(address), int(bound_port)
