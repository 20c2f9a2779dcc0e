"""Query and path parameter types the services share, bounded where PostgreSQL would refuse them."""

from __future__ import annotations

from typing import Annotated

from litestar.params import Parameter

# PostgreSQL's OFFSET is a bigint: a larger skip would fail in the driver (a 500), so it is refused as invalid.
MAX_OFFSET = 2**63 - 1
# PostgreSQL text cannot hold NUL: such values are refused as invalid rather than failing in the driver.
NO_NUL = r"^[^\x00]*$"

Skip = Annotated[int, Parameter(ge=0, le=MAX_OFFSET, description="items to skip")]
