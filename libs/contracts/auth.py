"""Contracts of the auth service: JWKS and token introspection over request/reply, and its events."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from libs.events.streams import StreamSpec

RPC_JWKS = "auth.jwks"
RPC_INTROSPECT = "auth.token.introspect"

USER_CREATED = "auth.user.created"
USER_DISABLED = "auth.user.disabled"
USER_ENABLED = "auth.user.enabled"
TOKEN_CREATED = "auth.token.created"
TOKEN_REVOKED = "auth.token.revoked"

# The stream lists event subjects explicitly: a wildcard like `auth.>` would also capture the
# request/reply subjects above, and JetStream's publish acknowledgement would race the real reply.
STREAM = StreamSpec("AUTH", ("auth.user.>", TOKEN_CREATED, TOKEN_REVOKED), description="auth service events")

Role = Literal["user", "admin"]


class JwksRequest(msgspec.Struct, frozen=True):
    pass


class Jwks(msgspec.Struct, frozen=True):
    keys: list[dict[str, Any]]


class IntrospectRequest(msgspec.Struct, frozen=True):
    token: str


class TokenPrincipal(msgspec.Struct, frozen=True):
    """Who an API token belongs to, as auth answers an introspection."""

    user_id: str
    email: str
    role: Role
    token_id: str
    scopes: list[str] = []
    expires_at: str | None = None


class UserCreated(msgspec.Struct, frozen=True):
    user_id: str
    email: str
    role: Role


class UserStatusChanged(msgspec.Struct, frozen=True):
    user_id: str


class TokenCreated(msgspec.Struct, frozen=True):
    token_id: str
    user_id: str
    name: str


class TokenRevoked(msgspec.Struct, frozen=True):
    token_id: str
    user_id: str
