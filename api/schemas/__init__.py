"""Request/response models, Base/Create/Public per entity (full-stack-fastapi-template style)."""


from typing import Annotated as _Annotated

from pydantic import Field as _Field

#: Largest id a BIGINT column holds: ids beyond it are refused as 422 before they reach the database.
MAX_DB_ID = 2**63 - 1
DbId = _Annotated[int, _Field(ge=1, le=MAX_DB_ID, description="Database id")]
