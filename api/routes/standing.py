"""A merchant's standing (green / yellow / red, rules in docs/STATS.md): the merchant's own view
(``/api/v1/merchant/standing``, its link token) and the staff view of any merchant.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api.db.models import Merchant
from api.deps import ClockDep, CurrentMerchant, SessionDep, SettingsDep, StaffUser, get_or_404
from api.services.standing import for_merchant

router = APIRouter(tags=["standing"])
Lang = Annotated[Literal["zh-CN", "en"], Query(description="Language of the advice")]


@router.get("/api/v1/merchant/standing", summary="This merchant's standing and what would improve it")
def own_standing(merchant: CurrentMerchant, session: SessionDep, settings: SettingsDep, clock: ClockDep,
                 lang: Lang = "zh-CN") -> dict[str, Any]:
    return for_merchant(session, merchant, settings.standing_rules, clock.now(), lang)


@router.get("/api/v1/registry/merchants/{code}/standing", summary="A merchant's standing (staff)")
def merchant_standing(code: str, session: SessionDep, settings: SettingsDep, clock: ClockDep, user: StaffUser,
                      lang: Lang = "zh-CN") -> dict[str, Any]:
    merchant = get_or_404(session, Merchant.code, code, "merchant")
    return for_merchant(session, merchant, settings.standing_rules, clock.now(), lang)
