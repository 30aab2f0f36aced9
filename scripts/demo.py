"""``make demo`` (``python scripts/demo.py [--no-serve]``): the whole story on the sample clips, on a fresh
SQLite database. Demo orchestration, not product code: it drives the case service from outside, as a city
deployment's operators, merchants and clock would.

1. start the service (uvicorn in this process, clock control on) and seed cameras/zones/merchants from
   ``sample_videos/*.zones.yaml``, staff accounts and an edge device key;
2. run the edge pipeline on the clips **as a subprocess** (``python -m detector edge --config
   var/demo/edge.yaml --exit-when-done``); if that fails (no trained model yet, a crash) say so in one line
   and replay the clips' ground truth (``NAME.truth.json``) as the edge would have sent it;
3. play the operator (reject the cases the clips' ground truth does not hold as false positives, or the least
   confident one, said to be true, when there are none; confirm the rest) and the merchants (some fix in
   time through their link, some do not); move the clock past the deadlines so escalations happen;
4. print the statistics, write ``var/demo/report.json``, and keep serving (unless ``--no-serve``).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import yaml
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
console = Console()
# The demo's own data: staff accounts, the roads the sample clips stand on, shop names for their zones.
PASSWORD = "frontage-demo"
STAFF = {"operator": "operator", "supervisor": "supervisor", "street": "enforcement_street",
         "district": "enforcement_district", "city": "enforcement_city", "admin": "admin"}
ROADS = ("Market Street", "Corner Lane", "Station Road", "River Walk")


class DemoError(RuntimeError):
    """A demo step that cannot go on (one line)."""


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class _Server:
    def __init__(self, app: Any, host: str, port: int) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://{host}:{port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if not self.thread.is_alive():
                break
            time.sleep(0.1)
        raise DemoError(f"the service did not start on {self.url}")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _clips(videos: Path) -> list[tuple[str, Path, Path, Path | None]]:
    clips = []
    for zones in sorted(videos.glob("*.zones.yaml")):
        name = zones.name.removesuffix(".zones.yaml")
        video = videos / f"{name}.mp4"
        truth = videos / f"{name}.truth.json"
        if video.exists():
            clips.append((name, video, zones, truth if truth.exists() else None))
    return clips


def _seed(app: Any, clips: list[tuple[str, Path, Path, Path | None]]) -> str:
    """Cameras, zones and merchants of the sample clips, the staff accounts and the demo's edge device key."""
    from api.db.session import session_scope
    from api.services.registration import apply_zones, create_device, create_user, get_or_create_merchant
    from detector.zones.schema import load_zones

    now = app.state.clock.now()
    with session_scope(app.state.session_factory) as s:
        for i, (name, _video, zones_path, _truth) in enumerate(clips):
            zones = load_zones(zones_path)
            for z in zones.zones:
                if z.merchant:
                    get_or_create_merchant(s, z.merchant, now, name=f"Shop {z.merchant.removeprefix('m-')}",
                                           address=f"{10 + len(z.merchant) + i} {ROADS[i % len(ROADS)]}",
                                           contact=f"{z.merchant}@shops.example")
            apply_zones(s, zones, now, camera_name=name.replace("-", " ").title(), road=ROADS[i % len(ROADS)],
                        location=ROADS[i % len(ROADS)])
        for username, role in STAFF.items():
            create_user(s, app.state.passwords, username, PASSWORD, role, now, full_name=f"Demo {username}")
        _device, key = create_device(s, "demo-edge", [c[0] for c in clips], now)
    return key


def _edge_yaml(workdir: Path, service_url: str, clips: list[tuple[str, Path, Path, Path | None]], model: Path,
               start: datetime, classes: Path | None = None) -> Path:
    """Write var/demo/edge.yaml for `detector.config.EdgeConfig` (paths absolute: the file lives elsewhere)."""
    cfg = {
        "service_url": service_url, "device_id": "demo-edge", "device_key_env": "FRONTAGE_DEVICE_KEY",
        "model": {"path": str(model.resolve()), "backend": "auto", "max_batch": 4},
        "batch": {"max_batch": 4, "max_wait_ms": 50},
        "cameras": [{"id": name, "url": str(video.resolve()), "zones": str(zones.resolve()), "analysis_fps": 1}
                    for name, video, zones, _ in clips],
        "outbox": str((workdir / "edge" / "outbox.db").resolve()),
        "evidence_dir": str((workdir / "edge" / "evidence").resolve()),
        "clip_s": 0, "start_time": start.isoformat(),
    }
    if classes is not None:
        cfg["classes"] = str(classes.resolve())
    path = workdir / "edge.yaml"
    path.write_text("# Written by scripts/demo.py for detector.config.EdgeConfig.\n" + yaml.safe_dump(cfg, sort_keys=False))
    return path


def _run_edge(edge_yaml: Path, key: str, model: Path, timeout_s: float, log_path: Path) -> str | None:
    """Run the edge as a subprocess; None on success, else a one-line reason."""
    if not model.exists():
        return f"no trained model at {model} (train one with `frontage train`)"
    env = {**os.environ, "FRONTAGE_DEVICE_KEY": key}
    cmd = [sys.executable, "-m", "detector", "edge", "--config", str(edge_yaml), "--exit-when-done",
           "--log-level", "WARNING"]
    console.print(f"[dim]$ {' '.join(cmd[1:])}[/dim]")
    with log_path.open("wb") as log:
        try:
            proc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            return f"the edge run took longer than {timeout_s:.0f} s"
    if proc.returncode != 0:
        lines = [ln for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
        last = lines[-1] if lines else "(no output)"
        return f"the edge command exited with {proc.returncode}: {last[:300]}"
    return None


def _truth_keys(clips: list[tuple[str, Path, Path, Path | None]]) -> set[tuple[str, str, str]]:
    """(camera, zone, category) of every ground-truth episode of the clips (the camera id is the clip name)."""
    from detector.pipeline.evaluate import load_episodes

    return {(name, ep["zone"], ep["category"]) for name, _video, _zones, truth_path in clips
            if truth_path is not None for ep in load_episodes(truth_path)}


def _replay_truth(http: httpx.Client, key: str, clips: list[tuple[str, Path, Path, Path | None]],
                  start: datetime) -> int:
    """Send each clip's ground-truth episodes as the edge would (started, then cleared when it ends)."""
    from detector.categories import Category
    from detector.events import EventType, ModelInfo, ViolationEvent
    from detector.zones.schema import load_zones

    sent = 0
    for name, _video, zones_path, truth_path in clips:
        if truth_path is None:
            continue
        zones = load_zones(zones_path)
        by_id = {z.id: z for z in zones.zones}
        truth = json.loads(truth_path.read_text())
        for ep in truth.get("episodes", []):
            zone = by_id.get(ep["zone"])
            if zone is None:
                continue
            t_start = start + timedelta(seconds=float(ep["start_s"]) + zones.dwell_s(zone))
            common = dict(camera=name, zone=ep["zone"], merchant=ep.get("merchant"),
                          category=Category(ep["category"]), started_at=t_start, confidence=0.9,
                          model=ModelInfo(name="ground-truth", version=str(truth.get("seed", "1"))))
            events = [ViolationEvent.for_episode(type=EventType.STARTED, seq=0, observed_at=t_start, **common)]
            if ep.get("end_s") is not None:
                t_end = start + timedelta(seconds=float(ep["end_s"]) + zones.clear_s(zone))
                events.append(ViolationEvent.for_episode(type=EventType.CLEARED, seq=1, observed_at=t_end,
                                                         ended_at=t_end, **common))
            for ev in events:
                r = http.post("/api/v1/events", content=ev.model_dump_json(), headers={
                    "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
                if r.status_code >= 300:
                    console.print(f"[yellow]event refused ({r.status_code}): {r.text[:200]}[/yellow]")
                sent += 1
    return sent


def _login(http: httpx.Client, username: str) -> dict[str, str]:
    r = http.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    if r.status_code != 200:
        raise DemoError(f"cannot sign in as {username}: {r.text[:200]}")
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _all_cases(http: httpx.Client, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = http.get("/api/v1/cases", params={**params, "limit": 200, "sort": "created_at",
                                                 **({"cursor": cursor} if cursor else {})}, headers=headers).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def _merchant_links(app: Any) -> dict[int, str]:
    """case id -> merchant link, read from the notification outbox (what the merchant received)."""
    from sqlalchemy import select

    from api.db.models import Notification

    with app.state.session_factory() as s:
        rows = s.scalars(select(Notification).where(Notification.kind == "merchant_notice")).all()
        return {n.case_id: n.payload["link"] for n in rows if n.case_id is not None}


def _stats_table(report: dict[str, Any]) -> Table:
    t = report["totals"]
    table = Table(title="Frontage statistics (demo period)")
    for col in ("figure", "value"):
        table.add_column(col)
    for key in ("flagged", "confirmed", "rejected", "left_notified", "self_rectified", "escalated_after_notice",
                "escalated", "closed"):
        table.add_row(key, str(t[key]))
    rate = t["self_rectification_rate"]
    table.add_row("self_rectification_rate", "n/a" if rate is None else f"{rate * 100:.1f} %")
    med = t["median_time_to_fix_s"]
    table.add_row("median_time_to_fix", "n/a" if med is None else f"{med / 60:.1f} min")
    return table


def _category_table(report: dict[str, Any]) -> Table:
    table = Table(title="By category")
    for col in ("category", "flagged", "rejected", "self_rectified", "escalated", "closed"):
        table.add_column(col)
    for cat, v in report["by"]["category"].items():
        table.add_row(cat, *(str(v[k]) for k in ("flagged", "rejected", "self_rectified", "escalated", "closed")))
    return table


def run_demo(*, host: str, port: int, serve: bool, videos: Path, workdir: Path, model: Path,
             edge_timeout_s: float, classes: Path | None = None) -> dict[str, Any]:
    from api.core.config import Settings
    from api.main import create_app

    clips = _clips(videos)
    if not clips:
        raise DemoError(f"no sample clips in {videos}/ (NAME.mp4 + NAME.zones.yaml)")
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    if port == 0:
        port = _free_port(host)
    elif not _port_free(host, port):
        new = _free_port(host)
        console.print(f"[yellow]port {port} is busy; using {new}[/yellow]")
        port = new
    url = f"http://{host}:{port}"
    # A key made for this run: the demo's sessions and links end with it.
    settings = Settings(database_url=f"sqlite:///{workdir / 'frontage.db'}", allow_clock_control=True,
                        secret_key=secrets.token_urlsafe(48),
                        scheduler_enabled=True, scheduler_interval_s=5.0, public_url=url,
                        evidence_store="db", argon2_time_cost=1, argon2_memory_kib=8192,
                        ephemeral_secret_key=True)  # demo: a random key per run, never a constant
    app = create_app(settings)
    server = _Server(app, host, port)
    server.start()
    console.rule("[bold]Frontage demo")
    console.print(f"service on {url} (database {settings.database_url})")
    key = _seed(app, clips)
    console.print(f"seeded {len(clips)} cameras from {videos}/, staff accounts, device 'demo-edge'")

    # ---- the edge -------------------------------------------------------------------------
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=15)
    edge_yaml = _edge_yaml(workdir, url, clips, model, start, classes)
    console.rule("edge")
    t0 = time.monotonic()
    failure = _run_edge(edge_yaml, key, model, edge_timeout_s, workdir / "edge.log")
    http = httpx.Client(base_url=url, timeout=60)
    if failure is None:
        edge_mode = "edge pipeline"
        console.print(f"edge run done in {time.monotonic() - t0:.0f} s (log: {workdir / 'edge.log'})")
    else:
        edge_mode = "ground-truth replay"
        console.print(f"[yellow]edge step failed: {failure}[/yellow]")
        console.print("[yellow]replaying the clips' ground truth (NAME.truth.json) as the edge would send it[/yellow]")
        n = _replay_truth(http, key, clips, start)
        console.print(f"sent {n} events")

    # ---- the operator ---------------------------------------------------------------------
    console.rule("operator")
    op, admin = _login(http, "operator"), _login(http, "admin")
    detected = _all_cases(http, op, state="detected")
    if not detected:
        console.print("[yellow]no cases were detected[/yellow]")
    # The operator rejects what the clips' ground truth does not hold (a real false positive); when every case
    # is true, the least confident one is rejected anyway, and said to be, so the re-learning path shows.
    truth = _truth_keys(clips)
    false_ids = [c["id"] for c in detected if (c["camera"], c["zone"], c["category"]) not in truth]
    rejected_ids = list(false_ids)
    if not rejected_ids and len(detected) > 1:
        rejected_ids = [min(detected, key=lambda c: (c["confidence"], c["id"]))["id"]]
    for case_id in rejected_ids:
        note = "false positive: not in the clip's ground truth (demo)" if false_ids else \
            "rejected to show the false-positive path; the case is true (demo)"
        http.post(f"/api/v1/cases/{case_id}/actions/reject", json={"note": note}, headers=op)
    to_confirm = [c["id"] for c in detected if c["id"] not in rejected_ids]
    if to_confirm:
        r = http.post("/api/v1/cases/bulk/confirm", json={"case_ids": to_confirm, "note": "confirmed (demo)"},
                      headers=op).json()
        why = ("false positives (not in the clips' ground truth)" if false_ids else
               "the least confident, to show that path: every case matches the clips' ground truth")
        console.print(f"confirmed {len(r['done'])} cases, rejected {len(rejected_ids)}: {why}")

    # ---- the merchants: every other notified case is fixed through the link ---------------------
    console.rule("merchants")
    http.post("/api/v1/admin/scheduler/run", headers=admin)  # deliver the notices (log channel)
    links = _merchant_links(app)
    notified = _all_cases(http, op, state="notified")
    fixers = notified[::2]
    http.post("/api/v1/admin/clock", json={"advance_s": 40 * 60}, headers=admin)  # merchants take their time
    for case in fixers:
        link = links.get(case["id"])
        if not link:
            continue
        token = link.rsplit("/", 1)[1]
        http.post(f"/api/v1/merchant/t/{token}/cases/{case['id']}/report-fixed",
                  data={"note": "cleared the pavement (demo)"})
    console.print(f"{len(fixers)} of {len(notified)} notified merchants reported a fix through their link")
    # Fixes the camera has not yet seen cleared: an operator checks the live view and verifies them.
    for case in _all_cases(http, op, state="merchant_reported_fixed"):
        http.post(f"/api/v1/cases/{case['id']}/actions/verify", json={"note": "checked on the live view (demo)"},
                  headers=op)

    # ---- time passes ----------------------------------------------------------------------
    console.rule("deadlines")
    for label, advance in (("+5 h: fix deadlines pass", 5 * 3600), ("+25 h: street-level SLA passes", 25 * 3600)):
        http.post("/api/v1/admin/clock", json={"advance_s": advance}, headers=admin)
        result = http.post("/api/v1/admin/scheduler/run", headers=admin).json()
        console.print(f"{label}: {result['escalated']} escalations")
    escalated = _all_cases(http, op, state="escalated")
    if escalated:
        first = escalated[0]
        role = {1: "street", 2: "district", 3: "city"}[first["escalation_level"]]
        http.post(f"/api/v1/cases/{first['id']}/actions/feedback", json={"note": "enforcement visited (demo)"},
                  headers=_login(http, role))
        http.post(f"/api/v1/cases/{first['id']}/actions/close", json={"note": "recheck: clear (demo)"}, headers=op)

    # ---- statistics -----------------------------------------------------------------------
    console.rule("statistics")
    now = datetime.fromisoformat(http.get("/api/v1/admin/clock", headers=admin).json()["now"])
    params = {"from": (start - timedelta(days=1)).isoformat(), "to": (now + timedelta(seconds=1)).isoformat()}
    stats = http.get("/api/v1/stats", params=params, headers=op).json()
    console.print(_stats_table(stats))
    console.print(_category_table(stats))
    cases = _all_cases(http, op)
    report = {"service_url": url, "edge_mode": edge_mode, "edge_failure": failure, "clips": [c[0] for c in clips],
              "stats": stats, "cases": [{k: c[k] for k in ("id", "state", "category", "camera", "zone", "merchant",
                                                           "escalation_level")} for c in cases]}
    (workdir / "report.json").write_text(json.dumps(report, indent=2))
    console.print(f"report: {workdir / 'report.json'}  ({edge_mode})")
    http.close()
    if not serve:
        server.stop()
        return report
    console.rule("serving")
    console.print(f"operator console: [bold]{url}/[/bold]   API docs: {url}/docs")
    console.print(f"sign in as operator / supervisor / admin / street / district / city, password '{PASSWORD}'")
    console.print("Ctrl-C stops the service.")
    try:
        while server.thread.is_alive():
            time.sleep(0.5)
    finally:
        server.stop()
    return report


def main(
    host: Annotated[str, typer.Option(help="Interface for the demo service")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (a free one is taken if busy)")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Exit after the report instead of serving")] = False,
    videos: Annotated[Path, typer.Option(help="Folder with NAME.mp4 + NAME.zones.yaml (+ NAME.truth.json)")] = (
        ROOT / "sample_videos"),
    workdir: Annotated[Path, typer.Option(help="Demo state (wiped at start)")] = ROOT / "var" / "demo",
    model: Annotated[Path, typer.Option(help="Model for the edge run")] = ROOT / "models" / "frontage-n.onnx",
    classes: Annotated[Path | None, typer.Option(help="Class map (default: <model stem>.classes.yaml)")] = None,
    edge_timeout_s: Annotated[float, typer.Option(help="Longest the edge run may take")] = 900.0,
) -> None:
    """The whole story on the sample clips: service, edge, operator, merchants, deadlines, statistics."""
    try:
        run_demo(host=host, port=port, serve=not no_serve, videos=videos, workdir=workdir, model=model,
                 edge_timeout_s=edge_timeout_s, classes=classes)
    except DemoError as exc:
        typer.echo(f"demo: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo("demo: stopped")


if __name__ == "__main__":
    typer.run(main)
