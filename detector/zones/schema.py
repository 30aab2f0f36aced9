"""The per-camera zones file (``zones/<camera>.yaml``), validated with messages that name file, zone and fault.

```yaml
camera: cam-01
zones:
  - id: z-m0012                # unique in the file
    merchant: m-0012           # optional; a zone with no merchant goes straight to enforcement
    kind: storefront           # storefront | sidewalk | parking | roadway
    polygon: [[0.10, 0.62], [0.34, 0.62], [0.36, 0.80], [0.08, 0.80]]   # normalised [x, y], 0-1
    forbid: [out_of_store_trading, exposed_garbage]
    dwell_s: 30                # optional; present this long -> episode starts
    clear_s: 20                # optional; absent this long -> episode clears
    fixtures:                  # optional; permanent objects (benches, bins): never a violation
      - [[0.20, 0.70], [0.24, 0.70], [0.24, 0.76], [0.20, 0.76]]
```
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from shapely.geometry import Polygon

from detector.categories import Category
from detector.yamlfile import read_yaml
from detector.zones.known import KnownObject
from detector.zones.schedule import Permit, check_timezone

Point = tuple[float, float]


class ZoneKind(StrEnum):
    STOREFRONT = "storefront"
    SIDEWALK = "sidewalk"
    PARKING = "parking"
    ROADWAY = "roadway"


class ZonesFileError(ValueError):
    """A zones file that cannot be used; the message names the file, the zone and the fault."""


def _check_polygon(points: list[Point], what: str) -> list[Point]:
    if len(points) < 3:
        raise ValueError(f"{what} needs at least 3 points, got {len(points)}")
    for i, (x, y) in enumerate(points):
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"{what} point {i} ({x}, {y}) is out of range: coordinates are normalised to 0-1")
    poly = Polygon(points)
    if not poly.is_valid:
        raise ValueError(f"{what} is self-intersecting or degenerate")
    if poly.area <= 0:
        raise ValueError(f"{what} has zero area")
    return points


class Zone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(title="Zone id", description="Unique within the camera", pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    merchant: Annotated[str | None, Field(title="Merchant", description="Merchant responsible for the zone, if any")] = None
    kind: Annotated[ZoneKind, Field(title="Kind", description="storefront, sidewalk, parking or roadway")]
    polygon: Annotated[list[Point], Field(title="Polygon", description="Normalised [x, y] vertices (0-1)")]
    forbid: Annotated[list[Category], Field(title="Forbidden categories", description="Categories that are a violation here")]
    dwell_s: Annotated[float | None, Field(title="Dwell", description="Seconds present before an episode starts", gt=0)] = None
    clear_s: Annotated[float | None, Field(title="Clear", description="Seconds absent before an episode clears", gt=0)] = None
    fixtures: Annotated[list[list[Point]], Field(title="Fixtures", description="Polygons of permanent objects, never a violation")] = []
    known_objects: Annotated[list[KnownObject], Field(title="Known objects", description="Objects an operator "
                                                      "said are not a violation here (detector/zones/known.py)")] = []
    permits: Annotated[list[Permit], Field(title="Permits", description="Hours and dates at which a forbidden "
                                           "category is allowed here (detector/zones/schedule.py)")] = []

    @field_validator("polygon")
    @classmethod
    def _polygon(cls, v: list[Point]) -> list[Point]:
        return _check_polygon(v, "polygon")

    @field_validator("fixtures")
    @classmethod
    def _fixtures(cls, v: list[list[Point]]) -> list[list[Point]]:
        return [_check_polygon(p, f"fixture {i}") for i, p in enumerate(v)]


class ZoneDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dwell_s: Annotated[float, Field(gt=0, description="Default dwell for zones that set none")] = 30.0
    clear_s: Annotated[float, Field(gt=0, description="Default clear time for zones that set none")] = 20.0
    grace_s: Annotated[float, Field(ge=0, description="Missed detections tolerated while present")] = 10.0
    anchor: Annotated[str, Field(pattern="^(bottom_center|center)$", description="Point of the box tested against zones")] = "bottom_center"


class ZonesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    camera: Annotated[str, Field(min_length=1, max_length=100, description="Camera id")]
    timezone: Annotated[str, Field(title="Time zone", description="IANA time zone of the camera: zone permits' "
                                   "hours and dates are its local time", min_length=1, max_length=64)] = "UTC"
    defaults: ZoneDefaults = ZoneDefaults()
    zones: list[Zone]

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        return check_timezone(v)

    @model_validator(mode="after")
    def _unique_ids(self) -> ZonesFile:
        seen: set[str] = set()
        for z in self.zones:
            if z.id in seen:
                raise ValueError(f"duplicate zone id {z.id!r}")
            seen.add(z.id)
        return self

    def dwell_s(self, zone: Zone) -> float:
        return zone.dwell_s if zone.dwell_s is not None else self.defaults.dwell_s

    def clear_s(self, zone: Zone) -> float:
        return zone.clear_s if zone.clear_s is not None else self.defaults.clear_s


def _describe(err: ValidationError, data: object) -> str:
    parts = []
    for e in err.errors():
        loc = list(e["loc"])
        where = ""
        if len(loc) >= 2 and loc[0] == "zones" and isinstance(loc[1], int) and isinstance(data, dict):
            zones = data.get("zones") or []
            zid = zones[loc[1]].get("id") if loc[1] < len(zones) and isinstance(zones[loc[1]], dict) else None
            where = f"zone {zid!r}" if zid else f"zone #{loc[1]}"
            loc = loc[2:]
        field = ".".join(str(p) for p in loc if not isinstance(p, int) or where == "")
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(", ".join(p for p in (where, field) if p) + f": {msg}" if (where or field) else msg)
    return "; ".join(parts)


def parse_zones(data: object, source: str = "<zones>") -> ZonesFile:
    try:
        return ZonesFile.model_validate(data)
    except ValidationError as err:
        raise ZonesFileError(f"{source}: {_describe(err, data)}") from None


def load_zones(path: str | Path) -> ZonesFile:
    """Read and validate a zones file; every problem raises `ZonesFileError` with one clear line."""
    path = Path(path)
    data = read_yaml(path, ZonesFileError, "zones file")
    if not isinstance(data, dict):
        raise ZonesFileError(f"{path}: expected a mapping with 'camera' and 'zones'")
    return parse_zones(data, str(path))
