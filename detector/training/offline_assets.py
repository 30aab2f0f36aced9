"""Put the fonts ultralytics wants where it looks, so nothing is ever downloaded.

Ultralytics fetches ``Arial.ttf`` / ``Arial.Unicode.ttf`` from the internet into ``$YOLO_CONFIG_DIR/Ultralytics``
the first time it draws labels (plots, ``Results.plot``). We copy matplotlib's bundled DejaVuSans there
instead: same role (a label font), no network. Run by ``make setup``::

    python -m detector.training.offline_assets
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")
ROOT = Path(__file__).resolve().parents[2]


def offline_env() -> dict[str, str]:
    """The environment that keeps ultralytics offline (the Makefile and tests set the same)."""
    return {
        "YOLO_OFFLINE": "1",
        "YOLO_AUTOINSTALL": "False",
        "YOLO_CONFIG_DIR": os.environ.get("YOLO_CONFIG_DIR", str(ROOT / "var" / "ultralytics")),
        "MPLCONFIGDIR": os.environ.get("MPLCONFIGDIR", str(ROOT / "var" / "matplotlib")),
    }


def apply_offline_env() -> None:
    """Set the offline variables (without overriding ones already set) before ultralytics is imported."""
    for key, value in offline_env().items():
        os.environ.setdefault(key, value)


def font_dir() -> Path:
    """Where ultralytics looks for its fonts: ``$YOLO_CONFIG_DIR/Ultralytics``."""
    return Path(offline_env()["YOLO_CONFIG_DIR"]) / "Ultralytics"


def bundled_font() -> Path:
    """DejaVuSans.ttf shipped inside matplotlib (no download)."""
    import matplotlib

    return Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"


def install_fonts() -> list[Path]:
    """Copy the bundled font under both names ultralytics asks for; idempotent. Returns the font paths."""
    source = bundled_font()
    if not source.exists():
        raise FileNotFoundError(f"matplotlib's bundled font is missing: {source}")
    target_dir = font_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for name in FONT_NAMES:
        target = target_dir / name
        if not target.exists() or target.stat().st_size != source.stat().st_size:
            shutil.copyfile(source, target)
        out.append(target)
    return out


def main() -> int:
    apply_offline_env()
    try:
        paths = install_fonts()
    except OSError as exc:
        print(f"error: cannot install offline fonts: {exc}", file=sys.stderr)
        return 1
    for p in paths:
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
