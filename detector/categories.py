"""Frontage violation categories: the vocabulary shared by class maps, zones, rules, events and cases."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """What kind of street-front violation an object stands for.

    >>> Category("exposed_garbage").label_en
    'Exposed garbage'
    """

    OUT_OF_STORE_TRADING = "out_of_store_trading"
    EXPOSED_GARBAGE = "exposed_garbage"
    DISORDERLY_PARKING = "disorderly_parking"
    STACKED_MATERIALS = "stacked_materials"
    STREET_VENDING = "street_vending"

    @property
    def label_en(self) -> str:
        return _LABELS[self][0]

    @property
    def label_zh(self) -> str:
        return _LABELS[self][1]


_LABELS: dict[Category, tuple[str, str]] = {
    Category.OUT_OF_STORE_TRADING: ("Out-of-store trading", "出店经营"),
    Category.EXPOSED_GARBAGE: ("Exposed garbage", "垃圾暴露"),
    Category.DISORDERLY_PARKING: ("Disorderly parking", "非机动车乱停放"),
    Category.STACKED_MATERIALS: ("Stacked materials", "乱堆物料"),
    Category.STREET_VENDING: ("Street vending", "流动摊贩"),
}

#: Class-map value for model classes that are never a violation by themselves (people, benches, bins).
IGNORE = "ignore"

ALL_CATEGORIES: tuple[Category, ...] = tuple(Category)
