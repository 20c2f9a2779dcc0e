"""Request and response bodies of the auth service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

# PostgreSQL text cannot hold NUL: values stored or looked up refuse it (422), not fail in the driver (500).
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")]
Password = Annotated[str, msgspec.Meta(max_length=1024)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
Scope = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9:._-]{0,63}$")]


class RegisterRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    name: Name | None = None


class LoginRequest(msgspec.Struct):
    email: Annotated[str, msgspec.Meta(max_length=254, pattern=r"^[^\x00]*$")]
    password: Password


class RefreshRequest(msgspec.Struct):
    refresh_token: Annotated[str, msgspec.Meta(max_length=4096)]


class LogoutRequest(msgspec.Struct):
    refresh_token: Annotated[str, msgspec.Meta(max_length=4096)] | None = None
    all_sessions: bool = False


class User(msgspec.Struct):
    id: str
    email: str
    name: str | None
    role: Literal["user", "admin"]
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None = None


class TokenPair(msgspec.Struct):
    access_token: str
    refresh_token: str
    expires_in: int
    user: User
    token_type: str = "bearer"


class CreateTokenRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    scopes: Annotated[list[Scope], msgspec.Meta(max_length=32)] | None = None
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None


class ApiTokenInfo(msgspec.Struct):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    is_active: bool


class CreatedApiToken(msgspec.Struct):
    id: str
    name: str
    token: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None


class UserList(msgspec.Struct):
    users: list[User]
    pagination: dict[str, int | bool]


class RoleChange(msgspec.Struct, forbid_unknown_fields=True):
    role: Literal["user", "admin"]


class RotatedKey(msgspec.Struct):
    kid: str
