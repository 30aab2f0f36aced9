"""Statistics formulas on a known set of cases (in a period of their own, 2001), JSON and CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from sqlalchemy import select

from api.db.models import Camera, Case, Zone


def T(day: int, hour: int = 10) -> datetime:
    return datetime(2001, 3, day, hour, tzinfo=UTC)


def test_stats_formulas(client, world, app):
    with app.state.session_factory.begin() as s:
        cam = s.scalar(select(Camera).where(Camera.code == world.cam_a))
        zone = s.scalar(select(Zone).where(Zone.camera_id == cam.id, Zone.code == world.zone_a))
        free = s.scalar(select(Zone).where(Zone.camera_id == cam.id, Zone.code == world.zone_free))

        def case(created: datetime, z: Zone = zone, **f) -> None:
            f.setdefault("state", "closed")
            s.add(Case(category=f.pop("category", "out_of_store_trading"), camera_id=cam.id, zone_id=z.id,
                       road_id=cam.road_id, merchant_id=z.merchant_id, confidence=0.9,
                       escalation_level=f.get("max_escalation_level", 0), self_rectified=f.pop("self_rectified", False),
                       first_seen_at=created, last_seen_at=created, created_at=created, updated_at=created,
                       **{"max_escalation_level": 0, **f}))

        # Two self-rectified (fixed in 2 h and 4 h), one escalated after the notice, one rejected,
        # one escalated without a merchant, one still waiting for verification, one outside the period.
        case(T(1), confirmed_at=T(1), notified_at=T(1), left_notified_at=T(1, 11), fixed_reported_at=T(1, 11),
             verified_at=T(1, 12), closed_at=T(1, 12), self_rectified=True)
        case(T(2), confirmed_at=T(2), notified_at=T(2), left_notified_at=T(2, 13), fixed_reported_at=T(2, 13),
             verified_at=T(2, 14), closed_at=T(2, 14), self_rectified=True, category="exposed_garbage")
        case(T(3), state="escalated", confirmed_at=T(3), notified_at=T(3), left_notified_at=T(4),
             escalated_at=T(4), max_escalation_level=2)
        case(T(5), state="rejected", rejected_at=T(5, 11))
        case(T(6), z=free, state="escalated", confirmed_at=T(6), escalated_at=T(6), max_escalation_level=1)
        case(T(7), state="merchant_reported_fixed", confirmed_at=T(7), notified_at=T(7), left_notified_at=T(7, 12),
             fixed_reported_at=T(7, 12))
        case(datetime(2001, 5, 1, tzinfo=UTC), confirmed_at=datetime(2001, 5, 1, tzinfo=UTC))

    params = {"from": "2001-03-01T00:00:00Z", "to": "2001-04-01T00:00:00Z", "period": "week"}
    report = client.get("/api/v1/stats", params=params, headers=world.auth("operator")).json()
    totals = report["totals"]
    assert {k: totals[k] for k in ("flagged", "confirmed", "rejected", "escalated", "closed", "left_notified",
                                   "self_rectified", "escalated_after_notice")} == {
        "flagged": 6, "confirmed": 5, "rejected": 1, "escalated": 2, "closed": 2, "left_notified": 4,
        "self_rectified": 2, "escalated_after_notice": 1}
    assert totals["self_rectification_rate"] == round(2 / 3, 4)
    assert totals["median_time_to_fix_s"] == 3 * 3600
    assert report["by"]["category"]["exposed_garbage"]["self_rectified"] == 1
    assert report["by"]["merchant"]["(none)"]["escalated"] == 1
    assert report["by"]["merchant"][world.merchant_a]["flagged"] == 5
    assert report["by"]["road"][world.road]["flagged"] == 6
    assert sum(v["flagged"] for v in report["by"]["period"].values()) == 6
    # CSV: the same numbers.
    r = client.get("/api/v1/stats", params={**params, "format": "csv"}, headers=world.auth("operator"))
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    total = next(row for row in rows if row["breakdown"] == "total")
    assert total["flagged"] == "6" and total["self_rectification_rate"] == str(round(2 / 3, 4))
    # Bad input: a clear 422.
    bad = client.get("/api/v1/stats", params={"from": "2001-04-01T00:00:00Z", "to": "2001-03-01T00:00:00Z"},
                     headers=world.auth("operator"))
    assert bad.status_code == 422 and "after" in bad.json()["detail"]


def test_rate_of_the_design_example():
    """DESIGN.md: 1,749 self-rectified, 322 escalated -> 84.5 %."""
    from api.stats import _Acc

    acc = _Acc()
    acc.counts["self_rectified"], acc.counts["escalated_after_notice"] = 1749, 322
    assert round(acc.result()["self_rectification_rate"] * 100, 1) == 84.5
