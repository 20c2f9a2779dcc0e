"""The authenticated caller of a request."""

from __future__ import annotations

from typing import Literal

import msgspec

from libs.contracts.auth import Role


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    role: Role
    email: str | None = None
    via: Literal["jwt", "api_token"] = "jwt"
    token_id: str | None = None
    scopes: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
