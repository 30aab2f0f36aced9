"""Zone schedules (issue 16 item 5): permits at the edges of their window, across midnight, on listed dates
and weekdays, in a non-UTC time zone; the rules on scripted detections open episodes only outside what is
permitted; bad schedules are one clear line naming the zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from detector.classmap import ClassMap
from detector.detections import Detections
from detector.events import EventType
from detector.rules import RuleEngine
from detector.zones.schedule import Permit, permitted
from detector.zones.schema import ZonesFileError, parse_zones

SHANGHAI = "Asia/Shanghai"  # UTC+8, no daylight saving
TERRACE = Permit(categories=["out_of_store_trading"], hours=["10:00-22:00"])
NIGHT_MARKET = Permit(categories=["street_vending"], hours=["22:00-02:00"], days=["fri", "sat"])
DELIVERY = Permit(categories=["stacked_materials"], hours=["00:00-08:00"], dates=["2026-12-24"])


def local(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0) -> datetime:
    """A Shanghai wall time as the UTC instant the edge's frames carry."""
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC) - timedelta(hours=8)


@pytest.mark.parametrize(("when", "expected"), [
    (local(2026, 12, 1, 9, 59, 59), False),  # one second before opening
    (local(2026, 12, 1, 10, 0, 0), True),  # opening minute included
    (local(2026, 12, 1, 21, 59, 59), True),
    (local(2026, 12, 1, 22, 0, 0), False),  # closing time excluded
])
def test_window_edges_in_local_time(when: datetime, expected: bool) -> None:
    assert permitted([TERRACE], "out_of_store_trading", when, SHANGHAI) is expected
    assert permitted([TERRACE], "exposed_garbage", when, SHANGHAI) is False  # another category: never


def test_same_instant_in_utc_is_a_different_local_hour() -> None:
    when = local(2026, 12, 1, 11)  # 11:00 in Shanghai is 03:00 UTC
    assert permitted([TERRACE], "out_of_store_trading", when, SHANGHAI)
    assert not permitted([TERRACE], "out_of_store_trading", when, "UTC")


@pytest.mark.parametrize(("when", "expected"), [
    (local(2026, 12, 4, 21, 59), False),  # Friday before the market
    (local(2026, 12, 4, 22, 0), True),  # Friday 22:00
    (local(2026, 12, 5, 0, 0), True),  # past midnight: Saturday 00:00 is still Friday's night
    (local(2026, 12, 5, 1, 59, 59), True),
    (local(2026, 12, 5, 2, 0), False),  # closes at 02:00
    (local(2026, 12, 6, 1, 0), True),  # Sunday 01:00 belongs to Saturday's market
    (local(2026, 12, 7, 1, 0), False),  # Monday 01:00 belongs to Sunday: not a market day
    (local(2026, 12, 3, 23, 0), False),  # Thursday night
])
def test_across_midnight_belongs_to_its_start_day(when: datetime, expected: bool) -> None:
    assert permitted([NIGHT_MARKET], "street_vending", when, SHANGHAI) is expected


def test_listed_dates() -> None:
    assert permitted([DELIVERY], "stacked_materials", local(2026, 12, 24, 7, 59), SHANGHAI)
    assert not permitted([DELIVERY], "stacked_materials", local(2026, 12, 24, 8, 0), SHANGHAI)
    assert not permitted([DELIVERY], "stacked_materials", local(2026, 12, 25, 7, 0), SHANGHAI)
    all_day = Permit(categories=["stacked_materials"], dates=["2026-12-24"])
    assert permitted([all_day], "stacked_materials", local(2026, 12, 24, 23, 59), SHANGHAI)
    assert not permitted([all_day], "stacked_materials", local(2026, 12, 25, 0, 0), SHANGHAI)


NAMES = ("chair",)
CMAP = ClassMap.from_dict({"classes": {"chair": "out_of_store_trading"}})
WH = (1000, 1000)


def engine(permits: list[dict], timezone: str = SHANGHAI) -> RuleEngine:
    return RuleEngine(parse_zones({
        "camera": "cam-01", "timezone": timezone, "defaults": {"dwell_s": 60, "clear_s": 60, "grace_s": 10},
        "zones": [{"id": "z-cafe", "merchant": "m-1", "kind": "storefront",
                   "polygon": [[0, 0.5], [0.5, 0.5], [0.5, 1], [0, 1]], "forbid": ["out_of_store_trading"],
                   "permits": permits}]}))


def chairs() -> Detections:
    d = Detections(xyxy=np.array([[100, 700, 200, 800]], np.float32), confidence=np.array([0.8], np.float32),
                   class_id=np.array([0]), class_names=NAMES)
    return CMAP.apply(d)


def play(rules: RuleEngine, start: datetime, minutes: int) -> list:
    """Chairs out every 10 s from ``start`` for ``minutes``."""
    events = []
    for i in range(minutes * 6 + 1):
        events += rules.update(chairs(), float(i * 10), start + timedelta(seconds=i * 10), WH)
    return events


def test_rules_count_only_outside_the_permitted_hours() -> None:
    terrace = [{"categories": ["out_of_store_trading"], "hours": ["10:00-22:00"]}]
    # chairs out 21:30-22:30 local: the episode starts only once 22:00 has passed, plus the dwell
    events = play(engine(terrace), local(2026, 12, 1, 21, 30), 60)
    started = [e for e in events if e.type == EventType.STARTED]
    assert len(started) == 1
    assert started[0].started_at == local(2026, 12, 1, 22, 0)
    assert started[0].observed_at == local(2026, 12, 1, 22, 1)  # after the 60 s dwell
    # all day inside the window: nothing
    assert play(engine(terrace), local(2026, 12, 1, 12, 0), 60) == []
    # the same hours read in UTC are 18:00-06:00 Shanghai: at 12:00 Shanghai the chairs are a violation
    assert [e.type for e in play(engine(terrace, "UTC"), local(2026, 12, 1, 12, 0), 5)] == [EventType.STARTED]


def test_an_open_episode_clears_when_the_permit_begins() -> None:
    rules = engine([{"categories": ["out_of_store_trading"], "hours": ["10:00-22:00"]}])
    events = play(rules, local(2026, 12, 1, 9, 50), 20)  # 09:50-10:10 local
    assert [e.type for e in events if e.type != EventType.UPDATED] == [EventType.STARTED, EventType.CLEARED]


@pytest.mark.parametrize(("zones_over", "message"), [
    ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ({"permits": [{"categories": ["out_of_store_trading"], "hours": ["10-22"]}]}, "expected HH:MM-HH:MM"),
    ({"permits": [{"categories": ["out_of_store_trading"], "hours": ["10:00-10:00"]}]}, "the window is empty"),
    ({"permits": [{"categories": ["out_of_store_trading"], "days": ["someday"]}]}, "day 'someday'"),
    ({"permits": [{"categories": ["out_of_store_trading"], "dates": ["24/12/2026"]}]}, "dates"),
    ({"permits": [{"categories": []}]}, "categories"),
    ({"permits": [{"categories": ["bbq"]}]}, "categories"),
])
def test_bad_schedules_name_the_zone_and_the_fault(zones_over: dict, message: str) -> None:
    data: dict = {"camera": "cam-01", "zones": [{"id": "z-cafe", "kind": "storefront", "forbid": [],
                                                 "polygon": [[0, 0.5], [0.5, 0.5], [0.5, 1]]}]}
    if "timezone" in zones_over:
        data["timezone"] = zones_over["timezone"]
    else:
        data["zones"][0].update(zones_over)
    with pytest.raises(ZonesFileError) as err:
        parse_zones(data, "zones/cam-01.yaml")
    assert message in str(err.value) and "zones/cam-01.yaml" in str(err.value)
    if "timezone" not in zones_over:
        assert "zone 'z-cafe'" in str(err.value)


def test_analyze_honours_schedules_from_the_zones_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``frontage analyze --zones Z.yaml`` on a sample clip (real video, the shipped model through the real
    CLI): the terrace permitted all day opens no trading episode; a permit on another date changes nothing."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    zones = yaml.safe_load((root / "sample_videos" / "market-street-day.zones.yaml").read_text())
    by_id = {z["id"]: z for z in zones["zones"]}
    zones["timezone"] = SHANGHAI
    by_id["z-m-0548"]["permits"] = [{"categories": ["out_of_store_trading"]}]  # every day, all day
    by_id["z-m-0549"]["permits"] = [{"categories": ["exposed_garbage"], "dates": ["2001-01-01"]}]
    (tmp_path / "zones.yaml").write_text(yaml.safe_dump(zones))
    env = os.environ | {"YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "False"}
    proc = subprocess.run([sys.executable, "-m", "detector", "analyze", str(root / "sample_videos" / "market-street-day.mp4"),
                           "--zones", str(tmp_path / "zones.yaml"), "--json", str(tmp_path / "out.json")],
                          capture_output=True, text=True, cwd=root, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = {(e["zone"], e["category"]) for e in json.loads((tmp_path / "out.json").read_text())["episodes"]}
    assert ("z-m-0548", "out_of_store_trading") not in found  # in the truth: 12-90 s, permitted here
    assert ("z-m-0549", "exposed_garbage") in found, found  # in the truth from 30 s; its permit is for 2001
