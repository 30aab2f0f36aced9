"""Bad input everywhere it can come in.

* The whole OpenAPI of the case service, fuzzed by schemathesis (Python API, against the ASGI app, a real
  migrated database, SQLite and PostgreSQL, and real credentials; a bounded number of examples per
  operation): zero 5xx, and every documented response conforms to its schema.
* The same operations with hostile values swapped into what schemathesis generates (`hostile`): strings with
  NUL and other control characters, numbers beyond 64 bits, 1e308, inf and nan, dates in year 1 and 9999
  with offsets that push them out of range: zero 5xx on both databases. (The explicit cases of issue 13
  item 7: tests/api/test_bad_input_filters.py.)
* Merchant photo uploads: oversize, a script behind a .jpg name, decompression bombs (PNG and JPEG), path
  traversal file names. (Edge evidence uploads: tests/api/test_api_ingest.py::test_upload_limits.)
* Zones through the service (PUT /api/v1/cameras/{code}/zones): malformed YAML, polygons out of range and
  self-intersecting, unknown categories: 422 naming the zone and the fault. (The edge's zones files:
  tests/edge/test_zones.py, tests/edge/test_cli_errors.py.)
* Videos through the real ``frontage analyze`` CLI: zero-length, truncated, corrupt, no video stream, an
  image posing as a video: one ``error:`` line, non-zero exit, no traceback.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from relkit import ROOT, rel_schema, require_postgres, seed
from sqlalchemy import select

from api.db.models import Evidence

ZONES = """\
camera: fuzz-cam
zones:
  - id: z-1
    merchant: m-fuzz
    kind: storefront
    polygon: [[0.1, 0.5], [0.4, 0.5], [0.4, 0.9], [0.1, 0.9]]
    forbid: [out_of_store_trading, exposed_garbage]
"""
MAX_EXAMPLES = 6
#: Not fuzzed: signing out ends every session of the caller, and every later operation would be fuzzed as a
#: 401 (sign-out has its own tests: tests/api/test_session_revocation.py).
NOT_FUZZED = {("POST", "/api/v1/auth/logout")}


def jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 200, 90)).save(buf, "JPEG")
    return buf.getvalue()


@contextlib.contextmanager
def _database(kind: str, d: Path) -> Iterator[str]:
    if kind == "sqlite":
        from api.db.migrate import upgrade

        url = f"sqlite:///{d / 'frontage.db'}"
        upgrade(url)
        yield url
        return
    require_postgres()
    with rel_schema() as url:  # a fresh migrated schema of our own, dropped afterwards
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with _database(request.param, tmp_path_factory.mktemp("fuzz")) as url:
        yield from _service(url, tmp_path_factory.getbasetemp() / f"fuzz-{request.param}")


def _service(url: str, d: Path) -> Iterator[dict]:
    from fastapi.testclient import TestClient

    from api.core.config import Settings
    from api.main import create_app

    d.mkdir(parents=True, exist_ok=True)
    seeded = seed(url, [ZONES], {"edge-fuzz": ["fuzz-cam"]}, users={"fuzz-admin": "admin", "fuzz-op": "operator"},
                  merchant_tokens=["m-fuzz"])
    settings = Settings(database_url=url, auto_migrate=False, scheduler_enabled=False, argon2_time_cost=1,
                        secret_key="fuzz-secret-key-0123456789abcdef-0123456789",
                        argon2_memory_kib=1024, evidence_max_bytes=256 * 1024, evidence_max_pixels=4_000_000,
                        evidence_store="dir", evidence_dir=d / "evidence", ephemeral_secret_key=True)
    app = create_app(settings)
    with TestClient(app) as client:
        r = client.post("/api/v1/auth/login", json={"username": "fuzz-admin", "password": seeded.passwords["fuzz-admin"]})
        admin = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = client.post("/api/v1/auth/login", json={"username": "fuzz-op", "password": seeded.passwords["fuzz-op"]})
        operator = {"Authorization": f"Bearer {r.json()['access_token']}"}
        yield {"app": app, "client": client, "admin": admin, "operator": operator, "dir": d,
               "edge": {"Authorization": f"Bearer {seeded.device_keys['edge-fuzz']}"},
               "merchant": {"Authorization": f"Bearer {seeded.merchant_tokens['m-fuzz']}"}}
    app.state.engine.dispose()


def _runner(operation, headers: dict[str, str], checks: list, overflowing: set[str],  # type: ignore[no-untyped-def]
            hooks: object = None, examples: int = MAX_EXAMPLES, shrink: bool = True):
    from hypothesis import HealthCheck, Phase, given, settings

    phases = list(Phase) if shrink else [Phase.explicit, Phase.reuse, Phase.generate]

    @given(case=operation.as_strategy(hooks=hooks))
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True, phases=phases,
              suppress_health_check=list(HealthCheck))
    def run(case) -> None:  # type: ignore[no-untyped-def]
        try:
            case.call_and_validate(headers=headers, checks=checks)
        except OverflowError:  # an id beyond 64 bits reaches the database: test_huge_ids_are_refused
            overflowing.add(f"{operation.method.upper()} {operation.path}")

    return run


def test_openapi_fuzz_no_5xx_and_responses_conform(service: dict) -> None:
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    @schemathesis.check
    def conforms_except_422(ctx, response, case):  # type: ignore[no-untyped-def]
        # 422 bodies are {detail: str, errors: [...]} while the OpenAPI says FastAPI's HTTPValidationError
        # (detail: array): a known contract bug, asserted on its own in test_422_body_matches_the_openapi.
        if response.status_code == 422:
            return None
        return response_schema_conformance(ctx, response, case)

    schema = schemathesis.openapi.from_asgi("/openapi.json", service["app"])
    failures: list[str] = []
    overflowing: set[str] = set()
    tested = 0
    only = os.environ.get("FRONTAGE_FUZZ_ONLY")  # debugging aid: one path
    for result in schema.get_all_operations():
        operation = result.ok()
        path = operation.path
        if (only and path != only) or (operation.method.upper(), path) in NOT_FUZZED:
            continue
        who = ("edge" if path == "/api/v1/events" or path.startswith("/api/v1/device/")
               else "merchant" if path.startswith("/api/v1/merchant/") else "admin")
        headers = service[who]

        run = _runner(operation, headers, [not_a_server_error, conforms_except_422], overflowing)
        tested += 1
        try:
            run()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.method.upper()} {path} as {who}: {str(exc).strip()[:int(os.environ.get('FRONTAGE_FUZZ_DETAIL', 1500))]}")
    assert only or tested >= 30, tested
    assert service["client"].get("/api/v1/auth/me", headers=service["admin"]).status_code == 200, "fuzzed signed out"
    assert not failures, "\n\n".join(failures)


#: What a hostile client puts where schemathesis puts a valid value (issue 13 item 7).
HOSTILE_STRINGS = ["a\x00b", "\x00", "cam\x1b[2J", "tab\there", "del\x7f", "line\nbreak", "\ufeff\x00\u200b"]
HOSTILE_NUMBERS = [2**70, -(2**70), 2**63, 1e308, -1e308]
#: Only where text carries numbers (query and path): a JSON client cannot send them in a body.
NON_FINITE = [float("inf"), float("-inf"), float("nan")]
HOSTILE_DATES = ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00Z",
                 "1000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999+14:00"]
HOSTILE_EXAMPLES = 8


def hostile(value: object, in_text: bool):  # type: ignore[no-untyped-def]
    """A strategy that keeps ``value`` or swaps hostile values into it (recursively, same shape).
    ``in_text``: the value travels as text (query, path), so inf and nan can be sent too."""
    from hypothesis import strategies as st

    if isinstance(value, bool) or value is None:
        return st.just(value)
    if isinstance(value, str):
        return st.one_of(st.just(value), st.sampled_from(HOSTILE_STRINGS), st.sampled_from(HOSTILE_DATES),
                         st.sampled_from(["\x00", "\x01", "\x1f"]).map(lambda c: value + c))
    if isinstance(value, int | float):
        return st.one_of(st.just(value), st.sampled_from(HOSTILE_NUMBERS + (NON_FINITE if in_text else [])))
    if isinstance(value, list):
        return st.tuples(*(hostile(v, in_text) for v in value)).map(list)
    if isinstance(value, dict):
        return st.fixed_dictionaries({k: hostile(v, in_text) for k, v in value.items()})
    return st.just(value)


def _hostile_hooks():  # type: ignore[no-untyped-def]
    from schemathesis.hooks import HookDispatcher, HookScope

    def as_text(_ctx, value):  # type: ignore[no-untyped-def]
        return hostile(value, in_text=True)

    def as_json(_ctx, value):  # type: ignore[no-untyped-def]
        return hostile(value, in_text=False)

    hooks = HookDispatcher(scope=HookScope.TEST)
    hooks.register_hook_with_name(as_text, "flatmap_query")
    hooks.register_hook_with_name(as_text, "flatmap_path_parameters")
    hooks.register_hook_with_name(as_json, "flatmap_body")
    return hooks


def test_openapi_fuzz_hostile_values_no_5xx(service: dict) -> None:
    """NUL and control characters in every string, huge and non-finite numbers, out-of-range dates: 4xx only."""
    import schemathesis
    from schemathesis.checks import not_a_server_error

    schema = schemathesis.openapi.from_asgi("/openapi.json", service["app"])
    hooks = _hostile_hooks()
    failures: list[str] = []
    overflowing: set[str] = set()
    tested = 0
    only = os.environ.get("FRONTAGE_FUZZ_ONLY")
    for result in schema.get_all_operations():
        operation = result.ok()
        path = operation.path
        if (only and path != only) or (operation.method.upper(), path) in NOT_FUZZED:
            continue
        who = ("edge" if path.startswith("/api/v1/events") or path.startswith("/api/v1/device/")
               else "merchant" if path.startswith("/api/v1/merchant/") else "admin")
        run = _runner(operation, service[who], [not_a_server_error], overflowing, hooks=hooks,
                      examples=HOSTILE_EXAMPLES, shrink=False)  # a failure is shown as generated: shrinking costs minutes
        tested += 1
        try:
            run()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            failures.append(f"{operation.method.upper()} {path} as {who}: {str(exc).strip()[:1500]}")
    assert only or tested >= 30, tested
    assert service["client"].get("/api/v1/auth/me", headers=service["admin"]).status_code == 200, "fuzzed signed out"
    assert not overflowing, f"values overflowed on the way to the database: {sorted(overflowing)}"
    assert not failures, "\n\n".join(failures)


def test_422_body_matches_the_openapi(service: dict) -> None:
    """A 422 carries one readable line in `detail` (+ field errors), and the OpenAPI documents exactly that."""
    c = service["client"]
    spec = c.get("/openapi.json").json()
    r = c.get("/api/v1/cases", params={"cursor": "not-a-cursor"}, headers=service["admin"])
    assert r.status_code == 422
    ref = spec["paths"]["/api/v1/cases"]["get"]["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
    documented = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]["detail"]
    assert documented["type"] == "string"  # what the OpenAPI promises ...
    assert isinstance(r.json()["detail"], str) and r.json()["detail"], r.json()  # ... and what the service sends


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/api/v1/cases/{big}", None),
    ("POST", "/api/v1/cases/bulk/reject", {"case_ids": ["{big}"]}),
    ("GET", "/api/v1/evidence/{big}", None),
])
def test_huge_ids_are_refused(service: dict, method: str, path: str, body: dict | None) -> None:
    from fastapi.testclient import TestClient

    big = 2**70
    if body is not None:
        body = {k: [big for _ in v] for k, v in body.items()}
    with TestClient(service["app"], raise_server_exceptions=False) as c:
        r = c.request(method, path.format(big=big), json=body, headers=service["admin"])
    assert r.status_code in (404, 422), (r.status_code, r.text[:300])


def _case_for_merchant(service: dict, day: int) -> int:
    from detector.events import EventType, ModelInfo, ViolationEvent

    t = datetime(2026, 6, day, 8, tzinfo=UTC)
    ev = ViolationEvent.for_episode(type=EventType.STARTED, seq=0, camera="fuzz-cam", zone="z-1",
                                    category="exposed_garbage", started_at=t, observed_at=t, confidence=0.9,
                                    model=ModelInfo(name="frontage-n", version="t"))
    c = service["client"]
    r = c.post("/api/v1/events", content=ev.model_dump_json(),
               headers={**service["edge"], "Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    cid = r.json()["case_id"]
    r = c.post(f"/api/v1/cases/{cid}/actions/confirm", headers=service["operator"])
    assert r.status_code == 200, r.text
    assert c.get(f"/api/v1/merchant/cases/{cid}", headers=service["merchant"]).status_code == 200
    return cid


def test_merchant_photo_uploads(service: dict) -> None:
    c, d = service["client"], service["dir"]
    cid = _case_for_merchant(service, 1)
    url = f"/api/v1/merchant/cases/{cid}/report-fixed"

    def send(filename: str, data: bytes, ctype: str = "image/jpeg"):  # type: ignore[no-untyped-def]
        return c.post(url, headers=service["merchant"], data={"note": "cleared"}, files={"photo": (filename, data, ctype)})

    png_bomb = io.BytesIO()
    Image.new("1", (12000, 12000)).save(png_bomb, "PNG")  # ~20 kB on disk, 144 Mpx decoded
    jpeg_bomb = jpeg((9000, 9000))  # a plain JPEG, but 81 Mpx
    refused = {
        "oversize": (send("big.jpg", jpeg() + b"\0" * (300 * 1024)), 413),
        "script behind .jpg": (send("photo.jpg", b"<script>alert(1)</script>" * 20), 415),
        "exe behind .png": (send("photo.png", b"MZ\x90\x00" + b"\0" * 500, "image/png"), 415),
        "png bomb": (send("bomb.png", png_bomb.getvalue(), "image/png"), 413),
        "jpeg bomb": (send("bomb.jpg", jpeg_bomb), 413),
        "empty": (send("empty.jpg", b""), 422),
    }
    bad = {k: (r.status_code, r.text[:200]) for k, (r, want) in refused.items() if r.status_code != want}
    assert not bad, bad
    for name, (r, _) in refused.items():
        assert r.json()["detail"] and "Traceback" not in r.text, name
    state = c.get(f"/api/v1/cases/{cid}", headers=service["operator"]).json()["state"]
    assert state != "fixed_reported", "a refused upload changed the case"

    # Path traversal in the file name: accepted as a photo, stored under a sanitised name, inside the store.
    good = jpeg()
    r = send("../../../../etc/cron.d/evil.jpg", good)
    assert r.status_code == 200, r.text
    with service["app"].state.session_factory() as s:
        rows = list(s.scalars(select(Evidence).where(Evidence.case_id == cid)))
    assert [row.file_name for row in rows] == ["evil.jpg"], [row.file_name for row in rows]
    stored = [p for p in (d / "evidence").rglob("*") if p.is_file()]
    assert any(p.read_bytes() == good for p in stored)
    assert all(p.resolve().is_relative_to((d / "evidence").resolve()) for p in stored)
    assert not Path("/etc/cron.d/evil.jpg").exists()
    assert rows[0].sha256 == hashlib.sha256(good).hexdigest()


ZONE = "camera: fuzz-cam\nzones:\n  - id: {zone}\n    kind: sidewalk\n    polygon: {polygon}\n    forbid: [{forbid}]\n"


@pytest.mark.parametrize("text,needles", [
    ("camera: [\nzones: :", ("YAML",)),
    (ZONE.format(zone="z-far", polygon="[[0.1, 0.1], [1.7, 0.1], [0.5, 0.9]]", forbid="exposed_garbage"),
     ("z-far", "out of range")),
    (ZONE.format(zone="z-bow", polygon="[[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]", forbid="exposed_garbage"),
     ("z-bow", "self-intersecting")),
    (ZONE.format(zone="z-cat", polygon="[[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]", forbid="graffiti"),
     ("z-cat", "forbid")),
], ids=["malformed-yaml", "out-of-range", "self-intersecting", "unknown-category"])
def test_bad_zones_upload_names_zone_and_fault(service: dict, text: str, needles: tuple[str, ...]) -> None:
    c = service["client"]
    before = c.get("/api/v1/cameras/fuzz-cam", headers=service["admin"]).json()
    r = c.put("/api/v1/cameras/fuzz-cam/zones", content=text, headers=service["admin"])
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "\n" not in detail and "Traceback" not in detail
    for needle in needles:
        assert needle in detail, detail
    assert c.get("/api/v1/cameras/fuzz-cam", headers=service["admin"]).json() == before  # nothing changed


@pytest.fixture(scope="module")
def bad_videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import av
    import numpy as np

    d = tmp_path_factory.mktemp("videos")
    good = d / "good.mp4"
    with av.open(str(good), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(30):
            frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), i * 8 % 256, np.uint8), format="bgr24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    data = good.read_bytes()
    (d / "zero.mp4").write_bytes(b"")
    (d / "truncated.mp4").write_bytes(data[: len(data) // 3])
    corrupt = bytearray(data)
    for i in range(64, len(corrupt), 7):
        corrupt[i] ^= 0xA5
    (d / "corrupt.mp4").write_bytes(bytes(corrupt))
    with av.open(str(d / "audio-only.mp4"), "w") as out:
        stream = out.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    (d / "image.mp4").write_bytes(jpeg())  # a still JPEG posing as a video
    (d / "zones.yaml").write_text(ZONE.format(zone="z-1", polygon="[[0, 0], [1, 0], [1, 1]]", forbid="exposed_garbage"))
    return {p.stem: p for p in d.iterdir()}


@pytest.mark.parametrize("name", ["zero", "truncated", "corrupt", "audio-only", "image"])
def test_bad_video_is_one_clear_line(bad_videos: dict[str, Path], coco_model: Path, name: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "detector", "analyze", str(bad_videos[name]), "--zones",
                           str(bad_videos["zones"]), "--model", str(coco_model), "--classes",
                           str(ROOT / "models" / "coco.classes.yaml")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out[-3000:]
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    if name in ("corrupt", "image") and proc.returncode == 0:
        # ffmpeg may still decode some frames of a damaged file, or the one image: then it is a (short) video
        assert not errors, out[-2000:]
        print(f"{name}: analysed as a short video")
        return
    assert proc.returncode != 0 and len(errors) == 1, out[-2000:]
    assert bad_videos[name].name in errors[0], errors[0]
