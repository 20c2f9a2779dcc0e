"""HTTP routes of the auth service."""

from __future__ import annotations

from typing import Annotated, Any

import jwt
import msgspec
from litestar import Controller, Request, Router, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from libs.http import Page, Success, ok
from libs.http.openapi import PublicOperation, documented, errors
from libs.http.params import Skip
from libs.identity import Principal, requires_admin
from services.auth.accounts import Accounts, AuthError
from services.auth.schemas import (
    ApiTokenInfo,
    CreatedApiToken,
    CreateTokenRequest,
    LoginRequest,
    LogoutRequest,
    RefreshRequest,
    RegisterRequest,
    RoleChange,
    RotatedKey,
    TokenPair,
    User,
    UserList,
)
from services.auth.store import user_from_row

PUBLIC = {"exclude_from_auth": True}


def accounts_dependency(request: Request[Any, Any, Any]) -> Accounts:
    accounts: Accounts = request.app.state["auth"]
    return accounts


def _client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def _session_id(request: Request[Any, Any, Any]) -> str | None:
    """The `sid` of the access token that authenticated this request (verified by the middleware)."""
    token = request.auth if isinstance(request.auth, str) else None
    if not token or token.startswith("ftk_"):
        return None
    sid = jwt.decode(token, options={"verify_signature": False}).get("sid")
    return sid if isinstance(sid, str) else None


class SessionController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post(
        "/register",
        opt=PUBLIC,
        status_code=HTTP_201_CREATED,
        responses=errors(409, 422, public=True),
        operation_class=PublicOperation,
    )
    async def register(self, data: JSONBody[RegisterRequest], accounts: NamedDependency[Accounts]) -> Success[User]:
        """Create an account (role `user`)."""
        return ok(await accounts.register(data), "Account created")

    @post(
        "/login",
        opt=PUBLIC,
        status_code=HTTP_200_OK,
        responses=errors(401, 403, 422, 429, public=True),
        operation_class=PublicOperation,
    )
    async def login(
        self, request: Request[Any, Any, Any], data: JSONBody[LoginRequest], accounts: NamedDependency[Accounts]
    ) -> Success[TokenPair]:
        """Exchange email and password for an access token and a refresh token."""
        return ok(await accounts.login(data.email, data.password, _client_address(request)))

    @post(
        "/refresh",
        opt=PUBLIC,
        status_code=HTTP_200_OK,
        responses=errors(401, 422, public=True),
        operation_class=PublicOperation,
    )
    async def refresh(self, data: JSONBody[RefreshRequest], accounts: NamedDependency[Accounts]) -> Success[TokenPair]:
        """Exchange a refresh token (single use) for a new pair."""
        return ok(await accounts.refresh(data.refresh_token))

    @post(
        "/logout",
        status_code=HTTP_200_OK,
        responses=errors(403, 422),
        operation_class=documented(optional_body=True),
    )
    async def logout(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        accounts: NamedDependency[Accounts],
        data: JSONBody[LogoutRequest | None] = None,
    ) -> Success[dict[str, int]]:
        """Revoke this session's refresh tokens (or every session with `all_sessions`)."""
        body = data or LogoutRequest()
        revoked = await accounts.logout(principal, _session_id(request), body.refresh_token, body.all_sessions)
        return ok({"revoked_refresh_tokens": revoked}, "Logged out")

    @get("/me", responses=errors(404))
    async def me(self, principal: NamedDependency[Principal], accounts: NamedDependency[Accounts]) -> Success[User]:
        """The caller's account (JWT or API token)."""
        row = await accounts.store.user_by_id(principal.user_id)
        if row is None:
            raise AuthError(404, "User not found", error_code="AUTH_013")
        return ok(user_from_row(row))


TokenId = Annotated[str, Parameter(max_length=64)]


class TokenController(Controller):
    path = "/api/v1/tokens"
    tags = ["tokens"]

    @post("/", status_code=HTTP_201_CREATED, responses=errors(409, 422))
    async def create(
        self,
        data: JSONBody[CreateTokenRequest],
        principal: NamedDependency[Principal],
        accounts: NamedDependency[Accounts],
    ) -> Success[CreatedApiToken]:
        """Create an API token. The token itself is shown in this response only."""
        return ok(await accounts.create_api_token(principal, data), "Token created; store it now, it is shown once")

    @get("/", responses=errors())
    async def list_tokens(
        self, principal: NamedDependency[Principal], accounts: NamedDependency[Accounts]
    ) -> Success[list[ApiTokenInfo]]:
        """The caller's tokens, masked."""
        return ok(await accounts.list_api_tokens(principal))

    @get("/{token_id:str}", responses=errors(404, 422))
    async def get_token(
        self, token_id: FromPath[TokenId], principal: NamedDependency[Principal], accounts: NamedDependency[Accounts]
    ) -> Success[ApiTokenInfo]:
        return ok(await accounts.get_api_token(principal, token_id))

    @delete("/{token_id:str}", status_code=HTTP_200_OK, responses=errors(404, 422))
    async def revoke(
        self, token_id: FromPath[TokenId], principal: NamedDependency[Principal], accounts: NamedDependency[Accounts]
    ) -> Success[ApiTokenInfo]:
        """Revoke a token; services stop accepting it within seconds."""
        return ok(await accounts.revoke_api_token(principal, token_id), "Token revoked")

    @post("/{token_id:str}/refresh", status_code=HTTP_200_OK, responses=errors(404, 409, 422))
    async def touch(
        self, token_id: FromPath[TokenId], principal: NamedDependency[Principal], accounts: NamedDependency[Accounts]
    ) -> Success[ApiTokenInfo]:
        """Update the token's `last_used_at`."""
        return ok(await accounts.touch_api_token(principal, token_id))


class AdminController(Controller):
    path = "/api/v1/admin"
    tags = ["admin"]
    guards = [requires_admin]

    @get("/users", responses=errors(403, 422))
    async def list_users(
        self,
        accounts: NamedDependency[Accounts],
        skip: FromQuery[Skip] = 0,
        limit: FromQuery[Annotated[int, Parameter(ge=1, le=1000)]] = 100,
    ) -> Success[UserList]:
        rows, total = await accounts.store.list_users(skip=skip, limit=limit)
        users = [user_from_row(r) for r in rows]
        page = Page.of(count=len(users), total=total, skip=skip, limit=limit)
        return ok(UserList(users=users, pagination=msgspec.structs.asdict(page)))

    @patch("/users/{user_id:str}/role", responses=errors(403, 404, 409, 422))
    async def set_role(
        self,
        user_id: FromPath[TokenId],
        data: JSONBody[RoleChange],
        principal: NamedDependency[Principal],
        accounts: NamedDependency[Accounts],
    ) -> Success[User]:
        return ok(await accounts.set_role(principal, user_id, data.role))

    @post("/users/{user_id:str}/disable", status_code=HTTP_200_OK, responses=errors(403, 404, 409, 422))
    async def disable(
        self, user_id: FromPath[TokenId], principal: NamedDependency[Principal], accounts: NamedDependency[Accounts]
    ) -> Success[User]:
        """Disable an account: logins, refresh tokens, API tokens and live JWTs stop working."""
        return ok(await accounts.set_disabled(principal, user_id, True), "User disabled")

    @post("/users/{user_id:str}/enable", status_code=HTTP_200_OK, responses=errors(403, 404, 409, 422))
    async def enable(
        self, user_id: FromPath[TokenId], principal: NamedDependency[Principal], accounts: NamedDependency[Accounts]
    ) -> Success[User]:
        return ok(await accounts.set_disabled(principal, user_id, False), "User enabled")

    @post("/keys/rotate", status_code=HTTP_200_OK, responses=errors(403))
    async def rotate_keys(self, accounts: NamedDependency[Accounts]) -> Success[RotatedKey]:
        """Start signing with a new key; tokens signed by the old one verify until they expire."""
        return ok(RotatedKey(kid=await accounts.keys.rotate()), "Signing key rotated")


@get(
    "/.well-known/jwks.json", opt=PUBLIC, tags=["auth"], responses=errors(public=True), operation_class=PublicOperation
)
async def jwks(accounts: NamedDependency[Accounts]) -> dict[str, Any]:
    """Public keys for verifying access tokens (RFC 7517)."""
    return {"keys": await accounts.keys.public_jwks()}


def routes() -> list[Router]:
    return [
        Router(
            path="/",
            route_handlers=[SessionController, TokenController, AdminController, jwks],
            dependencies={"accounts": Provide(accounts_dependency, sync_to_thread=False)},
        )
    ]
