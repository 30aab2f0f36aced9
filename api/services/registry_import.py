"""The merchant registry as a file: import (CSV or XLSX) validated row by row, and export in the same shape.

An import is all or nothing: every row is checked first (and every rejected row is reported with its row
number, column and reason); only a file with no rejected row is written, in the caller's one transaction.
Rows are matched to merchants by ``code``, so importing the same file again changes nothing.

Columns (header names in English or Chinese, any order, case-insensitive; extra columns are ignored)::

    code*  name*  licence_number  phone  notification_address  address  road  zones  active

- ``phone``: a phone number in any common spelling, stored as E.164 (``+8613800138000``);
- ``notification_address``: the http(s) URL the merchant's notices are POSTed to;
- ``zones``: the merchant's responsibility zones, ``camera/zone`` (or a bare zone id when only one camera
  has it), separated by ``;``. When the column is present it is the whole list: zones of the merchant that
  the row does not name are released; when it is absent, zone assignments stay as they are;
- ``active``: yes/no (also true/false, 1/0, 是/否); absent: new merchants are active, others keep theirs.

>>> parse_active("是"), parse_active("no"), parse_active("")
(True, False, None)
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import phonenumbers
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import Camera, Merchant, RegistryImport, Road, Zone

COLUMNS = ("code", "name", "licence_number", "phone", "notification_address", "address", "road", "zones", "active")
REQUIRED = ("code", "name")
#: Header spellings people use in survey sheets, mapped to the column names above.
ALIASES: dict[str, str] = {
    "merchant": "code", "merchant_code": "code", "商户编码": "code", "编码": "code", "商户编号": "code",
    "shop": "name", "shop_name": "name", "店名": "name", "商户名称": "name", "店铺名称": "name",
    "licence": "licence_number", "license": "licence_number", "license_number": "licence_number",
    "营业执照号": "licence_number", "营业执照": "licence_number", "统一社会信用代码": "licence_number",
    "contact_phone": "phone", "联系电话": "phone", "电话": "phone",
    "notify": "notification_address", "webhook_url": "notification_address", "通知地址": "notification_address",
    "地址": "address", "门牌地址": "address",
    "道路": "road", "路段": "road",
    "zone": "zones", "zone_ids": "zones", "责任区": "zones",
    "启用": "active", "在营": "active",
}
MAX_LENGTHS = {"code": 100, "name": 200, "licence_number": 100, "address": 300, "road": 200,
               "notification_address": 500}
CODE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
LICENCE_RE = re.compile(r"^[A-Za-z0-9-]{1,100}$")
_TRUE = {"yes", "y", "true", "1", "是", "启用", "在营"}
_FALSE = {"no", "n", "false", "0", "否", "停用", "注销"}


class RegistryFileError(ValueError):
    """The file as a whole cannot be read (encoding, format, header, size): nothing is imported."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RowError(BaseModel):
    row: int = Field(title="Row", description="Row number in the file as a spreadsheet shows it (header = 1)")
    code: str | None = Field(default=None, title="Merchant code", description="The row's code, when it has one")
    column: str | None = Field(default=None, title="Column", description="The column at fault, when one is")
    message: str = Field(title="Reason", description="Why the row was rejected, in one line")


class ImportReport(BaseModel):
    file_name: str = Field(title="File name", description="The uploaded file's name")
    format: str = Field(title="Format", description="csv or xlsx")
    rows: int = Field(title="Rows", description="Data rows read (header excluded)")
    created: int = Field(default=0, title="Created", description="Merchants that did not exist before")
    updated: int = Field(default=0, title="Updated", description="Merchants whose fields or zones changed")
    unchanged: int = Field(default=0, title="Unchanged", description="Rows identical to the registry")
    roads_created: list[str] = Field(default_factory=list, title="Roads created",
                                     description="Road names new to the service")
    zones_released: int = Field(default=0, title="Zones released",
                                description="Zones no longer assigned to the merchant that had them")
    ignored_columns: list[str] = Field(default_factory=list, title="Ignored columns",
                                       description="Header names that are not registry columns")
    rejected: list[RowError] = Field(default_factory=list, title="Rejected rows",
                                     description="Every rejected row and why; any rejected row: nothing imported")
    applied: bool = Field(default=False, title="Applied", description="True when the registry was written")
    dry_run: bool = Field(default=False, title="Dry run", description="Validated only, never written")


@dataclass
class RawRow:
    number: int  # as the spreadsheet shows it
    values: dict[str, str]
    problems: list[tuple[str | None, str]] = field(default_factory=list)  # read-level problems (merged cells)


@dataclass
class ParsedFile:
    format: str
    columns: list[str]
    ignored: list[str]
    rows: list[RawRow]


def parse_active(value: str) -> bool | None:
    v = value.strip().lower()
    if not v:
        return None
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ValueError(f"'{value}' is not yes or no")


def _normalise_header(names: list[str]) -> tuple[list[str], list[str]]:
    columns, ignored = [], []
    for raw in names:
        key = (raw or "").strip().lower().replace(" ", "_")
        key = ALIASES.get(key, ALIASES.get((raw or "").strip(), key))
        if key in COLUMNS:
            if key in columns:
                raise RegistryFileError(422, f"column '{key}' appears twice in the header")
            columns.append(key)
        else:
            columns.append("")
            if (raw or "").strip():
                ignored.append(raw.strip())
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise RegistryFileError(422, f"the header lacks the required column(s) {', '.join(missing)}; "
                                f"columns are: {', '.join(COLUMNS)}")
    return columns, ignored


def _decode(data: bytes) -> str:
    """UTF-8 (with or without the BOM Excel writes) or BOM-marked UTF-16; anything else is refused with a
    clear message rather than guessed: a wrong guess would silently store garbled shop names."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        hint = ""
        try:
            data.decode("gb18030")
            hint = " (it looks like GBK/GB18030: in Excel use Save As 'CSV UTF-8')"
        except UnicodeDecodeError:
            pass
        line = data[:exc.start].count(b"\n") + 1
        raise RegistryFileError(422, f"the file is not UTF-8 text: byte {exc.start} (line {line}) "
                                f"cannot be read{hint}; nothing was imported") from None


def read_csv(data: bytes) -> ParsedFile:
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise RegistryFileError(422, "the file is empty") from None
    except csv.Error as exc:
        raise RegistryFileError(422, f"the header cannot be read as CSV: {exc}") from None
    columns, ignored = _normalise_header(header)
    rows = []
    try:
        for cells in reader:
            number = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # blank lines are not rows
            row = RawRow(number, {})
            if len(cells) > len(columns):
                row.problems.append((None, f"{len(cells)} cells but the header has {len(columns)} columns "
                                           "(an unquoted comma?)"))
            for name, cell in zip(columns, cells, strict=False):
                if name:
                    row.values[name] = cell.strip()
            rows.append(row)
    except csv.Error as exc:
        raise RegistryFileError(422, f"line {reader.line_num} cannot be read as CSV: {exc}") from None
    return ParsedFile("csv", columns, ignored, rows)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone typed into Excel comes back as 13800138000.0
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def read_xlsx(data: bytes) -> ParsedFile:
    import zipfile

    from openpyxl import load_workbook  # defusedxml (installed) guards openpyxl's XML parsing

    try:
        # Not read_only: merged-cell ranges are only known in the full mode.
        book = load_workbook(io.BytesIO(data), data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise RegistryFileError(422, f"the file is not a readable XLSX workbook: {type(exc).__name__}") from None
    sheet = book.worksheets[0]
    merged_rows: dict[int, list[str]] = defaultdict(list)
    for merged in sheet.merged_cells.ranges:
        if merged.min_row == 1:
            raise RegistryFileError(422, f"the header row has merged cells ({merged.coord}); unmerge them")
        for r in range(merged.min_row, merged.max_row + 1):
            merged_rows[r].append(merged.coord)
    it = sheet.iter_rows(values_only=True)
    header = next(it, None)
    if header is None:
        raise RegistryFileError(422, "the first sheet is empty")
    columns, ignored = _normalise_header([_cell_text(v) for v in header])
    rows = []
    for number, cells in enumerate(it, start=2):
        texts = [_cell_text(v) for v in cells]
        if not any(texts) and number not in merged_rows:
            continue
        row = RawRow(number, {name: cell for name, cell in zip(columns, texts, strict=False) if name})
        for coord in merged_rows.get(number, []):
            row.problems.append((None, f"cells {coord} are merged: each row needs its own values "
                                       "(unmerge and fill every row)"))
        rows.append(row)
    return ParsedFile("xlsx", columns, ignored, rows)


def read_file(data: bytes, max_rows: int) -> ParsedFile:
    """CSV or XLSX, told apart by the bytes (an XLSX is a zip), never by the name."""
    parsed = read_xlsx(data) if data[:4] == b"PK\x03\x04" else read_csv(data)
    if len(parsed.rows) > max_rows:
        raise RegistryFileError(413, f"the file has {len(parsed.rows)} rows; the limit is {max_rows} per import")
    return parsed


# ----- validation -------------------------------------------------------------------------------------
@dataclass
class CleanRow:
    number: int
    code: str
    fields: dict[str, Any]  # Merchant attributes (None: leave as is) except zones and road
    road: str | None
    zone_ids: list[int] | None  # None: zones column absent


@dataclass
class ZoneIndex:
    by_full: dict[str, Zone]
    by_code: dict[str, list[Zone]]

    @classmethod
    def load(cls, session: Session) -> ZoneIndex:
        by_full: dict[str, Zone] = {}
        by_code: dict[str, list[Zone]] = defaultdict(list)
        for zone, camera_code in session.execute(select(Zone, Camera.code).join(Camera, Camera.id == Zone.camera_id)):
            by_full[f"{camera_code}/{zone.code}"] = zone
            by_code[zone.code].append(zone)
        return cls(by_full, by_code)

    def find(self, ref: str) -> Zone:
        if "/" in ref:
            zone = self.by_full.get(ref)
            if zone is None:
                raise ValueError(f"unknown zone '{ref}'")
            return zone
        found = self.by_code.get(ref, [])
        if not found:
            raise ValueError(f"unknown zone '{ref}'")
        if len(found) > 1:
            raise ValueError(f"zone '{ref}' exists on {len(found)} cameras: write it as camera/zone")
        return found[0]


def normalise_phone(value: str, region: str) -> str:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"'{value}' is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"'{value}' is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_url(value: str) -> str:
    import httpx

    try:
        url = httpx.URL(value)
    except Exception:
        raise ValueError(f"'{value}' is not a URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"'{value}' is not an http(s) URL")
    return value


def validate(parsed: ParsedFile, zones: ZoneIndex, phone_region: str) -> tuple[list[CleanRow], list[RowError]]:
    errors: list[RowError] = []
    clean: list[CleanRow] = []
    first_row_of_code: dict[str, int] = {}
    zone_owner_row: dict[int, int] = {}
    has = set(parsed.columns)
    for raw in parsed.rows:
        v = raw.values
        code = v.get("code", "")
        before = len(errors)

        def bad(column: str | None, message: str, code: str = code, raw: RawRow = raw) -> None:
            errors.append(RowError(row=raw.number, code=code or None, column=column, message=message))

        for column, message in raw.problems:
            bad(column, message)
        for name in REQUIRED:
            if not v.get(name):
                bad(name, f"'{name}' is missing")
        for name, limit in MAX_LENGTHS.items():
            if len(v.get(name, "")) > limit:
                bad(name, f"'{name}' is longer than {limit} characters")
        if code and not CODE_RE.match(code):
            bad("code", f"code '{code}' may only hold letters, digits and _ . -")
        if code in first_row_of_code:
            bad("code", f"duplicate code '{code}' (first on row {first_row_of_code[code]})")
        elif code:
            first_row_of_code[code] = raw.number
        fields: dict[str, Any] = {"name": v.get("name") or None}
        if "licence_number" in has:
            lic = v.get("licence_number", "")
            if lic and not LICENCE_RE.match(lic):
                bad("licence_number", f"licence number '{lic}' may only hold letters, digits and -")
            fields["licence_number"] = lic or None
        if "phone" in has:
            phone = v.get("phone", "")
            try:
                fields["phone"] = normalise_phone(phone, phone_region) if phone else None
            except ValueError as exc:
                bad("phone", str(exc))
        if "notification_address" in has:
            url = v.get("notification_address", "")
            try:
                fields["webhook_url"] = check_url(url) if url else None
            except ValueError as exc:
                bad("notification_address", str(exc))
        if "address" in has:
            fields["address"] = v.get("address") or None
        if "active" in has:
            try:
                active = parse_active(v.get("active", ""))
                if active is not None:
                    fields["active"] = active
            except ValueError as exc:
                bad("active", str(exc))
        zone_ids: list[int] | None = None
        if "zones" in has:
            zone_ids = []
            for ref in (r.strip() for r in re.split(r"[;,，；\s]+", v.get("zones", ""))):
                if not ref:
                    continue
                try:
                    zone = zones.find(ref)
                except ValueError as exc:
                    bad("zones", str(exc))
                    continue
                if zone.id in zone_owner_row and zone_owner_row[zone.id] != raw.number:
                    bad("zones", f"zone '{ref}' is also given to row {zone_owner_row[zone.id]}")
                    continue
                zone_owner_row[zone.id] = raw.number
                if zone.id not in zone_ids:
                    zone_ids.append(zone.id)
        if len(errors) == before:
            clean.append(CleanRow(raw.number, code, fields, (v.get("road") or None) if "road" in has else None,
                                  zone_ids))
    return clean, errors


# ----- the import -------------------------------------------------------------------------------------
def import_registry(session: Session, data: bytes, file_name: str, *, actor: str, now: datetime,
                    phone_region: str = "CN", max_rows: int = 50_000, dry_run: bool = False) -> ImportReport:
    """Validate every row; write nothing unless every row is good (and ``dry_run`` is off).

    Raises `RegistryFileError` when the file as a whole cannot be read.
    """
    parsed = read_file(data, max_rows)
    report = ImportReport(file_name=file_name, format=parsed.format, rows=len(parsed.rows),
                          ignored_columns=parsed.ignored, dry_run=dry_run)
    if not parsed.rows:
        raise RegistryFileError(422, "the file has a header but no rows")
    zones = ZoneIndex.load(session)
    clean, errors = validate(parsed, zones, phone_region)
    report.rejected = errors
    if errors or dry_run:
        if not errors:
            _plan(session, clean, zones, now, report, write=False)
        return report
    _plan(session, clean, zones, now, report, write=True)
    session.add(RegistryImport(at=now, actor=actor, file_name=file_name[:200], sha256=hashlib.sha256(data).hexdigest(),
                               rows=report.rows, created=report.created, updated=report.updated,
                               unchanged=report.unchanged))
    session.flush()
    report.applied = True
    return report


def _plan(session: Session, rows: list[CleanRow], zones: ZoneIndex, now: datetime, report: ImportReport,
          write: bool) -> None:
    """Count (and, with ``write``, make) the changes: one query per table up front, one flush per step."""
    merchants = {m.code: m for m in session.scalars(select(Merchant))}
    roads = {r.name: r for r in session.scalars(select(Road))}
    for name in dict.fromkeys(r.road for r in rows if r.road):
        if name not in roads:
            roads[name] = Road(name=name)
            report.roads_created.append(name)
            if write:
                session.add(roads[name])
    if write and report.roads_created:
        session.flush()
    changed_codes: set[str] = set()
    created_codes: set[str] = set()
    for row in rows:
        merchant = merchants.get(row.code)
        if merchant is None:
            merchant = merchants[row.code] = Merchant(code=row.code, offence_count=0, created_at=now, active=True)
            created_codes.add(row.code)
            if write:
                session.add(merchant)
        wanted = dict(row.fields)
        if row.road is not None:
            wanted["road_id"] = roads[row.road].id
        for attr, value in wanted.items():
            if getattr(merchant, attr, None) != value:
                changed_codes.add(row.code)
                if write:
                    setattr(merchant, attr, value)
    if write:
        session.flush()  # new merchants get their ids for the zone step
    zones_of: dict[int, set[int]] = defaultdict(set)
    zone_by_id = {z.id: z for z in zones.by_full.values()}
    for zone in zone_by_id.values():
        if zone.merchant_id is not None:
            zones_of[zone.merchant_id].add(zone.id)
    for row in rows:
        if row.zone_ids is None:
            continue
        merchant = merchants[row.code]
        mine = zones_of.get(merchant.id, set()) if merchant.id is not None else set()
        wanted_zones = set(row.zone_ids)
        if mine == wanted_zones:
            continue
        changed_codes.add(row.code)
        report.zones_released += len(mine - wanted_zones)
        report.zones_released += sum(1 for z in wanted_zones - mine if zone_by_id[z].merchant_id is not None)
        if write:
            for zone_id in mine - wanted_zones:
                zone_by_id[zone_id].merchant_id = None
            for zone_id in wanted_zones - mine:
                zone_by_id[zone_id].merchant_id = merchant.id
    report.created = len(created_codes)
    report.updated = len(changed_codes - created_codes)
    report.unchanged = len(rows) - report.created - report.updated
    if write:
        for code in changed_codes - created_codes:
            merchants[code].updated_at = now
        session.flush()


# ----- export -----------------------------------------------------------------------------------------
def registry_rows(session: Session) -> list[dict[str, str]]:
    """The whole registry as rows of the import's columns (export, then import again: nothing changes)."""
    zones: dict[int, list[str]] = defaultdict(list)
    for zone_code, camera_code, merchant_id in session.execute(
            select(Zone.code, Camera.code, Zone.merchant_id).join(Camera, Camera.id == Zone.camera_id)
            .where(Zone.merchant_id.is_not(None)).order_by(Camera.code, Zone.code)):
        zones[merchant_id].append(f"{camera_code}/{zone_code}")
    road_names = {rid: name for rid, name in session.execute(select(Road.id, Road.name))}
    out = []
    for m in session.scalars(select(Merchant).order_by(Merchant.code)):
        out.append({"code": m.code, "name": m.name, "licence_number": m.licence_number or "", "phone": m.phone or "",
                    "notification_address": m.webhook_url or "", "address": m.address or "",
                    "road": road_names.get(m.road_id, "") if m.road_id else "", "zones": "; ".join(zones[m.id]),
                    "active": "yes" if m.active else "no"})
    return out


def export_csv(rows: list[dict[str, str]]) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")  # the BOM makes Excel read the Chinese names as UTF-8


def export_xlsx(rows: list[dict[str, str]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "merchants"
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([row[c] for c in COLUMNS])
    sheet.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGHI", (14, 28, 22, 16, 36, 30, 16, 30, 8), strict=True):
        sheet.column_dimensions[letter].width = width
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
