"""Litestar glue: the authentication middleware, the principal dependency, and role guards."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.authentication import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp, Scope

from libs.identity.authenticator import AuthenticationFailed, Authenticator
from libs.identity.principal import Principal

AUTHENTICATOR_STATE_KEY = "authenticator"


def _credential(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise NotAuthorizedException("Authorization header must be 'Bearer <token>'")
        return value.strip()
    api_key = connection.headers.get("x-api-key")
    if api_key:
        return api_key.strip()
    # Browsers cannot set headers on WebSocket handshakes: those may pass the token as a query value.
    if connection.scope["type"] == ScopeType.WEBSOCKET:
        token = connection.query_params.get("token")
        if isinstance(token, str) and token:
            return token
    return None


class AuthMiddleware(AbstractAuthenticationMiddleware):
    """Sets `request.user` to a `Principal`; routes with `opt={"exclude_from_auth": True}` are public."""

    def __init__(self, app: ASGIApp, exclude: list[str] | None = None) -> None:
        super().__init__(app, exclude=exclude, exclude_from_auth_key="exclude_from_auth")

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        credential = _credential(connection)
        if credential is None:
            raise NotAuthorizedException("Authentication required")
        authenticator: Authenticator = connection.app.state[AUTHENTICATOR_STATE_KEY]
        try:
            principal = await authenticator.authenticate(credential)
        except AuthenticationFailed as exc:
            raise NotAuthorizedException("Invalid or expired credentials") from exc
        return AuthenticationResult(user=principal, auth=credential)


def current_principal(scope: Scope) -> Principal:
    """Dependency `principal`: the authenticated caller (declare it as `NamedDependency[Principal]`)."""
    user = scope.get("user")
    if not isinstance(user, Principal):
        raise NotAuthorizedException("Authentication required")
    return user


def requires_admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: role admin only (403 otherwise)."""
    user = connection.scope.get("user")
    if not isinstance(user, Principal) or not user.is_admin:
        raise PermissionDeniedException("Admin role required")
