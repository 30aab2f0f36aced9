"""Evidence files: checked before they are stored (size, type sniffed from the bytes, image pixel count,
videos opened and their first frame decoded with PyAV, sanitised names), stored in the database or a directory, read back, purged after the retention period.

>>> sniff(b"\\xff\\xd8\\xff\\xe0rest")
'image/jpeg'
>>> sanitize_filename("../../etc/passwd")
'passwd'
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath, PureWindowsPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.core.config import Settings
from api.db.models import Case, CaseState, Evidence

log = logging.getLogger(__name__)

ALLOWED_TYPES = ("image/jpeg", "image/png", "video/mp4")


class EvidenceError(ValueError):
    """An upload refused; ``status`` is the HTTP status to answer with (413 size, 415 type, 422 other)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class CheckedFile:
    name: str
    file_name: str
    kind: str
    content_type: str
    data: bytes
    sha256: str


def sniff(data: bytes) -> str | None:
    """Content type from the magic bytes; None when it is none of JPEG, PNG or MP4."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return "video/mp4"
    return None


def sanitize_filename(name: str | None, default: str = "file") -> str:
    """Keep the last path component of either path flavour, only safe characters, at most 100 chars."""
    if not name:
        return default
    base = PureWindowsPath(PurePosixPath(name).name).name
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")[:100]
    return base or default


def check_file(*, name: str, file_name: str | None, data: bytes, settings: Settings, kind: str = "frame",
               declared_type: str | None = None, declared_sha256: str | None = None) -> CheckedFile:
    if len(data) > settings.evidence_max_bytes:
        raise EvidenceError(413, f"file '{name}' is {len(data)} bytes; the limit is {settings.evidence_max_bytes}")
    if not data:
        raise EvidenceError(422, f"file '{name}' is empty")
    actual = sniff(data)
    if actual is None:
        raise EvidenceError(415, f"file '{name}' is not a JPEG, PNG or MP4 (by its content)")
    if declared_type and declared_type != actual:
        raise EvidenceError(415, f"file '{name}' claims {declared_type} but its content is {actual}")
    digest = hashlib.sha256(data).hexdigest()
    if declared_sha256 and declared_sha256 != digest:
        raise EvidenceError(422, f"file '{name}' does not match its declared sha256")
    if actual.startswith("image/"):
        _check_image(name, data, settings.evidence_max_pixels)
    else:
        _check_video(name, data, settings.evidence_max_pixels)
    return CheckedFile(name=name, file_name=sanitize_filename(file_name, default=name), kind=kind,
                       content_type=actual, data=data, sha256=digest)


def _check_image(name: str, data: bytes, max_pixels: int) -> None:
    from PIL import Image  # Pillow reads only the header here: no pixels are decoded

    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except Image.DecompressionBombError:
        raise EvidenceError(413, f"image '{name}' is a decompression bomb") from None
    except Exception:
        raise EvidenceError(422, f"image '{name}' cannot be read") from None
    if width * height > max_pixels:
        raise EvidenceError(413, f"image '{name}' is {width}x{height} pixels; the limit is {max_pixels} pixels "
                            "(decompression-bomb guard)")


def _check_video(name: str, data: bytes, max_pixels: int) -> None:
    """Open the clip with PyAV and decode its first frame: four magic bytes (``ftyp``) prove nothing."""
    import av

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise EvidenceError(415, f"file '{name}' is an MP4 without a video stream")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width or 0, stream.codec_context.height or 0
            if width * height > max_pixels:
                raise EvidenceError(413, f"video '{name}' is {width}x{height} pixels; the limit is {max_pixels}")
            if next(container.decode(stream), None) is None:
                raise EvidenceError(415, f"file '{name}' has no video frame PyAV can decode")
    except EvidenceError:
        raise
    except Exception:  # PyAV raises a family of FFmpeg errors (and ValueError/EOFError) for a non-video
        raise EvidenceError(415, f"file '{name}' is not a playable video (PyAV could not open it)") from None


def store(session: Session, settings: Settings, case: Case, f: CheckedFile, source: str, now: datetime) -> Evidence:
    row = Evidence(case_id=case.id, source=source, kind=f.kind, file_name=f.file_name, content_type=f.content_type,
                   size=len(f.data), sha256=f.sha256, created_at=now)
    if settings.evidence_store == "db":
        row.data = f.data
    else:
        # Content-addressed: the stored path comes from the hash, never from the uploaded name.
        key = f"{f.sha256[:2]}/{f.sha256}"
        path = settings.evidence_dir / key
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".part")
                try:
                    tmp.write_bytes(f.data)
                    tmp.replace(path)
                finally:
                    tmp.unlink(missing_ok=True)
            row.storage_key = key
        except OSError as exc:
            # A full or read-only evidence disk must not lose the event: keep the bytes in the database
            # row instead (readable by every replica) and say so in one line.
            log.error("evidence store %s unusable (%s: %s); keeping %s in the database",
                      settings.evidence_dir, type(exc).__name__, exc.strerror or exc, f.file_name)
            row.data = f.data
    session.add(row)
    return row


def read(settings: Settings, row: Evidence) -> bytes | None:
    if row.purged_at is not None:
        return None
    if row.storage_key:
        path = Path(settings.evidence_dir) / row.storage_key
        return path.read_bytes() if path.exists() else None
    return row.data


def purge(session: Session, settings: Settings, now: datetime, limit: int = 500) -> int:
    """Drop the bytes of evidence older than the retention period on closed or rejected cases."""
    cutoff = now - timedelta(days=settings.retention_days)
    rows = session.scalars(
        select(Evidence).join(Case, Case.id == Evidence.case_id)
        .where(Evidence.created_at < cutoff, Evidence.purged_at.is_(None),
               Case.state.in_([CaseState.CLOSED.value, CaseState.REJECTED.value]))
        .limit(limit)).all()
    for row in rows:
        row.data = None
        if row.storage_key:
            shared = session.scalar(select(Evidence.id).where(Evidence.storage_key == row.storage_key,
                                                              Evidence.id != row.id, Evidence.purged_at.is_(None)))
            if shared is None:
                (Path(settings.evidence_dir) / row.storage_key).unlink(missing_ok=True)
        row.purged_at = now
    return len(rows)
