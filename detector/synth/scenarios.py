"""Scripted clips as data: which objects appear where and when, who walks or rides past.

A `Scenario` names frontage *segments* rather than pixels: ``shop1`` is the shop nearest the camera,
``shop2`` the next one along the street, ``sidewalk`` the stretch of pavement with no merchant. Positions
inside a segment are fractions: ``along`` 0 (near end) to 1 (far end), ``across`` 0 (kerb) to 1 (shopfront).
The clip builder turns this into world positions, the zones file and the ground truth.

>>> s = SCENARIOS["market-street-day"]
>>> s.look, len(s.placements) > 0
('day', True)
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from detector.synth.classes import class_names

SegmentName = Annotated[str, Field(pattern=r"^(shop[1-9]|sidewalk)$", description="shop1..shop9 or sidewalk")]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Placement(_Model):
    """Objects put down at ``at_s`` and taken away at ``until_s`` (None: still there at the end)."""

    cls: Annotated[str, Field(title="Class", description="Model class of the objects")]
    segment: SegmentName
    at_s: Annotated[float, Field(ge=0, title="Placed at", description="Seconds from the start of the clip")]
    until_s: Annotated[float | None, Field(title="Removed at", description="Seconds; None = still there at the end")] = None
    along: Annotated[Fraction, Field(description="0 near end .. 1 far end of the segment")] = 0.5
    across: Annotated[Fraction, Field(description="0 kerb .. 1 shopfront")] = 0.5
    count: Annotated[int, Field(ge=1, le=6, description="How many objects, spread along the street")] = 1
    spread_m: Annotated[float, Field(gt=0, le=3, description="Spacing of the objects (m)")] = 0.9
    attendant_s: Annotated[float, Field(ge=0, description="A shopkeeper stands beside them this long after placing")] = 0.0

    @field_validator("cls")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in class_names():
            raise ValueError(f"unknown class {v!r}")
        return v


class Fixture(_Model):
    """A permanent bench or bin inside a zone (listed as a fixture polygon in the zones file)."""

    cls: Literal["bench", "bin"]
    segment: SegmentName
    along: Fraction = 0.5
    across: Fraction = 0.15


class Ride(_Model):
    """A bicycle or e-bike ridden along the street (never a violation: it does not stay)."""

    cls: Literal["bicycle", "e_bike"] = "bicycle"
    at_s: Annotated[float, Field(ge=0)]
    lane: Literal["road", "pavement"] = "road"
    toward_camera: bool = False
    speed_mps: Annotated[float, Field(gt=0.5, le=12)] = 4.5


class Linger(_Model):
    """A person standing still for a while (people are never a violation)."""

    segment: SegmentName
    at_s: Annotated[float, Field(ge=0)]
    until_s: Annotated[float, Field(gt=0)]
    along: Fraction = 0.5
    across: Fraction = 0.5


class Crowd(_Model):
    """Random foot traffic, drawn from the clip seed."""

    walkers_per_min: Annotated[float, Field(ge=0, le=120, description="People walking through per minute")] = 6.0
    lingerers: Annotated[int, Field(ge=0, le=40, description="Random people who stop for 15-60 s")] = 2


class Scenario(_Model):
    name: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,40}$")]
    description: str
    look: Literal["day", "overcast", "dusk", "rain"] = "day"
    seed: Annotated[int, Field(ge=0, description="Default seed: street, camera, crowd")] = 0
    duration_s: Annotated[float, Field(gt=0, le=1800)] = 180.0
    shops: Annotated[int, Field(ge=2, le=9, description="Shops with a zone (the sidewalk segment is extra)")] = 4
    sidewalk_after: Annotated[int, Field(ge=0, le=9, description="The no-merchant sidewalk comes after this many shops")] = 2
    fixtures: list[Fixture] = []
    placements: list[Placement] = []
    rides: list[Ride] = []
    lingers: list[Linger] = []
    crowd: Crowd = Crowd()


def _p(cls: str, segment: str, at: float, until: float | None, **kw: object) -> Placement:
    return Placement(cls=cls, segment=segment, at_s=at, until_s=until, **kw)  # type: ignore[arg-type]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario(
            name="market-street-day",
            description="Sunny morning on a shopping street: a grocer puts crates out, bags wait at the kerb, "
            "a cart vends on the sidewalk, a bike is left on the pavement, later a cafe sets out a table and chairs.",
            look="day", seed=101, duration_s=180, shops=3, sidewalk_after=2,
            fixtures=[Fixture(cls="bin", segment="shop2", along=0.9, across=0.1),
                      Fixture(cls="bench", segment="sidewalk", along=0.85, across=0.12)],
            placements=[
                _p("goods_display", "shop1", 12, 90, along=0.45, across=0.72, count=2, spread_m=1.2, attendant_s=15),
                _p("trash_bag", "shop2", 30, None, along=0.4, across=0.25, count=2, spread_m=0.6),
                _p("stall_cart", "sidewalk", 45, 150, along=0.35, across=0.5, attendant_s=100),
                _p("bicycle", "shop3", 60, 150, along=0.3, across=0.3),
                _p("bicycle", "shop2", 125, 137, along=0.7, across=0.6),  # parked 12 s only: below dwell, no episode
                _p("table", "shop1", 110, None, along=0.5, across=0.55),
                _p("chair", "shop1", 110, None, along=0.5, across=0.3, count=2, spread_m=1.1),
            ],
            rides=[Ride(at_s=20), Ride(at_s=88, cls="e_bike", toward_camera=True, speed_mps=6),
                   Ride(at_s=160, lane="pavement", speed_mps=3.5)],
            lingers=[Linger(segment="shop3", at_s=5, until_s=40, along=0.6, across=0.55)],
            crowd=Crowd(walkers_per_min=7, lingerers=2),
        ),
        Scenario(
            name="corner-shops-dusk",
            description="Dusk, signs lit: a hardware shop stacks boxes outside, litter piles up, a cafe puts out an "
            "A-frame sign and chairs, two e-bikes are dumped on the sidewalk, a cart trades at a shop front.",
            look="dusk", seed=202, duration_s=190, shops=3, sidewalk_after=2,
            fixtures=[Fixture(cls="bench", segment="shop2", along=0.15, across=0.12),
                      Fixture(cls="bin", segment="shop3", along=0.9, across=0.1)],
            placements=[
                _p("stacked_materials", "shop2", 8, 115, along=0.55, across=0.7, count=2, spread_m=1.0),
                _p("litter_pile", "shop1", 40, 165, along=0.65, across=0.3),
                _p("a_frame_sign", "shop3", 20, None, along=0.4, across=0.4),
                _p("chair", "shop3", 20, None, along=0.5, across=0.7, count=2, spread_m=0.8),
                _p("e_bike", "sidewalk", 70, None, along=0.4, across=0.3, count=2, spread_m=1.0),
                _p("stall_cart", "shop1", 120, None, along=0.35, across=0.6, attendant_s=60),
            ],
            rides=[Ride(at_s=35, cls="e_bike", speed_mps=6), Ride(at_s=120, toward_camera=True)],
            lingers=[Linger(segment="shop2", at_s=100, until_s=170, along=0.3, across=0.6)],
            crowd=Crowd(walkers_per_min=5, lingerers=2),
        ),
        Scenario(
            name="busy-pavement-overcast",
            description="Overcast lunchtime rush: heavy foot traffic, people stopping to chat and look in windows, "
            "bikes ridden past on the road and along the pavement; nothing is left behind: no violation.",
            look="overcast", seed=303, duration_s=150, shops=3, sidewalk_after=2,
            fixtures=[Fixture(cls="bench", segment="shop1", along=0.5, across=0.12),
                      Fixture(cls="bin", segment="sidewalk", along=0.3, across=0.12),
                      Fixture(cls="bin", segment="shop3", along=0.6, across=0.12)],
            placements=[],
            rides=[Ride(at_s=15), Ride(at_s=55, lane="pavement", speed_mps=3.0), Ride(at_s=95, cls="e_bike", toward_camera=True),
                   Ride(at_s=120, speed_mps=5.5), Ride(at_s=138, cls="e_bike")],
            lingers=[Linger(segment="shop2", at_s=10, until_s=75, along=0.5, across=0.7),
                     Linger(segment="shop3", at_s=60, until_s=130, along=0.4, across=0.4),
                     Linger(segment="sidewalk", at_s=95, until_s=145, along=0.6, across=0.6)],
            crowd=Crowd(walkers_per_min=24, lingerers=6),
        ),
        Scenario(
            name="rainy-lane",
            description="Light rain on a narrow lane: bags put out early, building materials stacked outside a "
            "shop under renovation, a bicycle chained on the pavement; people with umbrellas.",
            look="rain", seed=404, duration_s=160, shops=3, sidewalk_after=1,
            fixtures=[Fixture(cls="bin", segment="shop2", along=0.2, across=0.1)],
            placements=[
                _p("trash_bag", "shop1", 10, 100, along=0.55, across=0.3, count=3, spread_m=0.55),
                _p("stacked_materials", "shop3", 25, None, along=0.5, across=0.7),
                _p("bicycle", "sidewalk", 50, 150, along=0.5, across=0.25),
                _p("goods_display", "shop2", 75, None, along=0.6, across=0.7, attendant_s=20),
            ],
            rides=[Ride(at_s=30, cls="e_bike"), Ride(at_s=120)],
            crowd=Crowd(walkers_per_min=4, lingerers=1),
        ),
    ]
}
