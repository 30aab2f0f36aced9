"""The model's class list, read from ``models/frontage-n.classes.yaml`` (the single source of truth)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

CLASSES_FILE = Path(__file__).resolve().parents[2] / "models" / "frontage-n.classes.yaml"


@lru_cache(maxsize=1)
def class_map() -> dict[str, str]:
    """Model class name -> Frontage category (or ``ignore``), in class-id order.

    >>> list(class_map())[0]
    'person'
    """
    data = yaml.safe_load(CLASSES_FILE.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data["classes"].items()}


def class_names() -> list[str]:
    """Class names in model class-id order."""
    return list(class_map())


def category_of(class_name: str, zone_has_merchant: bool) -> str:
    """Category a class stands for in a zone; a stall cart in a merchant's zone is that merchant trading outside.

    >>> category_of("stall_cart", True), category_of("stall_cart", False), category_of("bench", True)
    ('out_of_store_trading', 'street_vending', 'ignore')
    """
    category = class_map()[class_name]
    if category == "street_vending" and zone_has_merchant:
        return "out_of_store_trading"
    return category
