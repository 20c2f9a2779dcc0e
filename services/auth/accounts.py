"""The auth service's behaviour: accounts, sessions (access + rotating refresh tokens), API tokens."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import jwt

from libs.contracts import auth as contract
from libs.events import RpcError, enqueue_event, new_event
from libs.http import ApiError
from libs.identity import Principal
from libs.logging import get_logger
from services.auth import api_tokens
from services.auth.keys import SigningKeys
from services.auth.passwords import Passwords
from services.auth.schemas import (
    ApiTokenInfo,
    CreatedApiToken,
    CreateTokenRequest,
    RegisterRequest,
    TokenPair,
    User,
)
from services.auth.settings import AuthSettings
from services.auth.store import AuthStore, token_from_row, user_from_row
from services.auth.throttle import LoginLocked, LoginThrottle

log = get_logger(__name__)
INVALID_LOGIN = "Invalid email or password"


class AuthError(ApiError):
    """An auth failure with one of the service's error codes."""


class Accounts:
    def __init__(
        self,
        store: AuthStore,
        keys: SigningKeys,
        passwords: Passwords,
        throttle: LoginThrottle,
        settings: AuthSettings,
        *,
        issuer: str,
        audience: str,
        pepper: bytes,
    ) -> None:
        self.store = store
        self.keys = keys
        self.passwords = passwords
        self.throttle = throttle
        self.settings = settings
        self.issuer = issuer
        self.audience = audience
        self._pepper = pepper

    # Accounts

    def _check_password_strength(self, password: str) -> None:
        s = self.settings
        if len(password) < s.min_password_length:
            raise AuthError(422, f"Password must be at least {s.min_password_length} characters", error_code="AUTH_002")
        if len(password) > s.max_password_length:
            raise AuthError(422, "Password is too long", error_code="AUTH_002")

    async def register(self, req: RegisterRequest, *, role: str = "user") -> User:
        self._check_password_strength(req.password)
        password_hash = await asyncio.to_thread(self.passwords.hash, req.password)
        email = req.email.strip()
        async with self.store.db.transaction() as conn:
            row = await self.store.insert_user(conn, email=email, password_hash=password_hash, name=req.name, role=role)
            if row is None:
                raise AuthError(409, "An account with this email already exists", error_code="AUTH_003")
            user = user_from_row(row)
            await enqueue_event(
                conn,
                contract.USER_CREATED,
                new_event("user.created", contract.UserCreated(user.id, user.email, user.role), actor=user.id),
            )
        log.info("user registered", user_id=user.id)
        return user

    async def login(self, email: str, password: str, client: str) -> TokenPair:
        try:
            await self.throttle.check(email, client)
        except LoginLocked as exc:
            raise AuthError(
                429,
                "Too many failed login attempts; try again later",
                error_code="AUTH_429",
                headers={"Retry-After": str(exc.retry_after)},
            ) from exc
        row = await self.store.user_by_email(email)
        stored = row["password_hash"] if row is not None else None
        valid = await asyncio.to_thread(self.passwords.verify, stored, password)
        if not valid or row is None:
            await self.throttle.failed(email, client)
            raise AuthError(401, INVALID_LOGIN, error_code="AUTH_001")
        if row["disabled_at"] is not None:
            raise AuthError(403, "This account is disabled", error_code="AUTH_004")
        await self.throttle.succeeded(email)
        new_hash = None
        if self.passwords.needs_rehash(stored or ""):
            new_hash = await asyncio.to_thread(self.passwords.hash, password)
        await self.store.record_login(row["id"], new_hash)
        return await self._issue_pair(row, family_id=uuid.uuid4())

    # Sessions

    def _access_claims(self, row: asyncpg.Record, family_id: uuid.UUID, now: datetime) -> dict[str, Any]:
        return {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(row["id"]),
            "email": row["email"],
            "role": row["role"],
            "typ": "access",
            "sid": str(family_id),
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(minutes=self.settings.access_token_minutes),
            "jti": uuid.uuid4().hex,
        }

    async def _issue_pair(
        self, row: asyncpg.Record, *, family_id: uuid.UUID, conn: asyncpg.Connection | None = None
    ) -> TokenPair:
        now = datetime.now(UTC)
        jti = uuid.uuid4()
        expires = now + timedelta(days=self.settings.refresh_token_days)
        refresh = self.keys.sign(
            {
                "iss": self.issuer,
                "aud": self.audience,
                "sub": str(row["id"]),
                "typ": "refresh",
                "sid": str(family_id),
                "iat": now,
                "exp": expires,
                "jti": str(jti),
            }
        )
        query = "INSERT INTO refresh_tokens (jti, family_id, user_id, expires_at) VALUES ($1, $2, $3, $4)"
        if conn is not None:
            await conn.execute(query, jti, family_id, row["id"], expires)
        else:
            await self.store.db.execute(query, jti, family_id, row["id"], expires)
        return TokenPair(
            access_token=self.keys.sign(self._access_claims(row, family_id, now)),
            refresh_token=refresh,
            expires_in=self.settings.access_token_minutes * 60,
            user=user_from_row(row),
        )

    async def _decode_refresh(self, token: str) -> dict[str, Any]:
        invalid = AuthError(401, "Invalid or expired refresh token", error_code="AUTH_005")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise invalid from exc
        if header.get("alg") != self.keys.algorithm or not isinstance(header.get("kid"), str):
            raise invalid
        key = await self.keys.verification_key(header["kid"])
        if key is None:
            raise invalid
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[self.keys.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "jti", "sid"]},
            )
        except jwt.PyJWTError as exc:
            raise invalid from exc
        if claims.get("typ") != "refresh":
            raise invalid
        return claims

    async def refresh(self, token: str) -> TokenPair:
        claims = await self._decode_refresh(token)
        jti, family = uuid.UUID(claims["jti"]), uuid.UUID(claims["sid"])
        async with self.store.db.transaction() as conn:
            row = await conn.fetchrow("SELECT used_at, revoked_at FROM refresh_tokens WHERE jti = $1 FOR UPDATE", jti)
            if row is None or row["revoked_at"] is not None:
                raise AuthError(401, "Invalid or expired refresh token", error_code="AUTH_005")
            if row["used_at"] is not None:
                # Reuse of a rotated token: someone holds a stolen copy. End the whole session.
                await conn.execute(
                    "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL", family
                )
                log.warning("refresh token reuse detected; session revoked", family=str(family))
                reuse = True
            else:
                reuse = False
                await conn.execute("UPDATE refresh_tokens SET used_at = now() WHERE jti = $1", jti)
                user = await conn.fetchrow(
                    "SELECT id, email, name, role, disabled_at, created_at, last_login_at FROM users WHERE id = $1",
                    uuid.UUID(claims["sub"]),
                )
                if user is None or user["disabled_at"] is not None:
                    raise AuthError(401, "Invalid or expired refresh token", error_code="AUTH_005")
                pair = await self._issue_pair(user, family_id=family, conn=conn)
        if reuse:
            raise AuthError(401, "Refresh token was already used; the session has been revoked", error_code="AUTH_006")
        return pair

    async def logout(
        self, principal: Principal, session_id: str | None, refresh_token: str | None, all_sessions: bool
    ) -> int:
        uid = uuid.UUID(principal.user_id)
        if all_sessions:
            status = await self.store.db.execute(
                "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", uid
            )
        else:
            family = session_id
            if refresh_token:
                claims = await self._decode_refresh(refresh_token)
                if claims["sub"] != principal.user_id:
                    raise AuthError(403, "That refresh token belongs to another user", error_code="AUTH_007")
                family = claims["sid"]
            if family is None:
                raise AuthError(
                    400, "No session to log out of: send refresh_token or all_sessions", error_code="AUTH_008"
                )
            status = await self.store.db.execute(
                "UPDATE refresh_tokens SET revoked_at = now()"
                " WHERE family_id = $1 AND user_id = $2 AND revoked_at IS NULL",
                uuid.UUID(family),
                uid,
            )
        return int(status.split()[-1])

    # API tokens

    async def create_api_token(self, principal: Principal, req: CreateTokenRequest) -> CreatedApiToken:
        uid = uuid.UUID(principal.user_id)
        days = req.expires_in_days
        if days is not None and days > self.settings.max_api_token_days:
            raise AuthError(
                422, f"expires_in_days may be at most {self.settings.max_api_token_days}", error_code="AUTH_009"
            )
        token = api_tokens.new_token()
        now = datetime.now(UTC)
        expires = now + timedelta(days=days) if days else None
        scopes = sorted(set(req.scopes or []))
        async with self.store.db.transaction() as conn:
            active = await conn.fetchval(
                "SELECT count(*) FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL", uid
            )
            if active >= self.settings.max_api_tokens_per_user:
                raise AuthError(
                    409,
                    f"At most {self.settings.max_api_tokens_per_user} active API tokens per user; revoke one first",
                    error_code="AUTH_010",
                )
            token_id = uuid.uuid4()
            await conn.execute(
                "INSERT INTO api_tokens (id, user_id, name, token_prefix, token_hash, scopes, created_at, expires_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                token_id,
                uid,
                req.name,
                api_tokens.masked(token),
                api_tokens.token_hash(token, self._pepper),
                scopes,
                now,
                expires,
            )
            await enqueue_event(
                conn,
                contract.TOKEN_CREATED,
                new_event(
                    "token.created",
                    contract.TokenCreated(str(token_id), principal.user_id, req.name),
                    actor=principal.user_id,
                ),
            )
        return CreatedApiToken(
            id=str(token_id),
            name=req.name,
            token=token,
            prefix=api_tokens.masked(token),
            scopes=scopes,
            created_at=now,
            expires_at=expires,
        )

    async def list_api_tokens(self, principal: Principal) -> list[ApiTokenInfo]:
        now = datetime.now(UTC)
        return [token_from_row(r, now) for r in await self.store.api_tokens(uuid.UUID(principal.user_id))]

    async def get_api_token(self, principal: Principal, token_id: str) -> ApiTokenInfo:
        row = await self.store.api_token(token_id, uuid.UUID(principal.user_id))
        if row is None:
            raise AuthError(404, "Token not found", error_code="AUTH_011")
        return token_from_row(row, datetime.now(UTC))

    async def revoke_api_token(self, principal: Principal, token_id: str) -> ApiTokenInfo:
        uid = uuid.UUID(principal.user_id)
        row = await self.store.api_token(token_id, uid)
        if row is None:
            raise AuthError(404, "Token not found", error_code="AUTH_011")
        async with self.store.db.transaction() as conn:
            updated = await conn.fetchrow(
                "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING *", row["id"]
            )
            if row["revoked_at"] is None:
                await enqueue_event(
                    conn,
                    contract.TOKEN_REVOKED,
                    new_event(
                        "token.revoked",
                        contract.TokenRevoked(str(row["id"]), principal.user_id),
                        actor=principal.user_id,
                    ),
                )
        assert updated is not None
        return token_from_row(updated, datetime.now(UTC))

    async def touch_api_token(self, principal: Principal, token_id: str) -> ApiTokenInfo:
        row = await self.store.api_token(token_id, uuid.UUID(principal.user_id))
        if row is None:
            raise AuthError(404, "Token not found", error_code="AUTH_011")
        if row["revoked_at"] is not None:
            raise AuthError(409, "Token is revoked", error_code="AUTH_012")
        updated = await self.store.touch_api_token(row["id"])
        return token_from_row(updated, datetime.now(UTC))

    async def introspect(self, token: str) -> contract.TokenPrincipal:
        """Answer `auth.token.introspect`: who owns this API token, if it is usable."""
        if not api_tokens.is_well_formed(token):
            raise RpcError("invalid_token", "malformed API token")
        row = await self.store.api_token_by_hash(api_tokens.token_hash(token, self._pepper))
        now = datetime.now(UTC)
        if row is None:
            raise RpcError("invalid_token", "unknown API token")
        if row["revoked_at"] is not None:
            raise RpcError("revoked", "API token is revoked")
        if row["expires_at"] is not None and row["expires_at"] <= now:
            raise RpcError("expired", "API token has expired")
        if row["disabled_at"] is not None:
            raise RpcError("disabled", "user is disabled")
        # Record use at most once a minute per token, not on every request.
        if row["last_used_at"] is None or now - row["last_used_at"] > timedelta(seconds=60):
            await self.store.touch_api_token(row["id"])
        return contract.TokenPrincipal(
            user_id=str(row["user_id"]),
            email=row["email"],
            role=row["role"],
            token_id=str(row["id"]),
            scopes=list(row["scopes"]),
            expires_at=row["expires_at"].isoformat() if row["expires_at"] else None,
        )

    # Administration

    async def set_role(self, admin: Principal, user_id: str, role: str) -> User:
        row = await self.store.user_by_id(user_id)
        if row is None:
            raise AuthError(404, "User not found", error_code="AUTH_013")
        if str(row["id"]) == admin.user_id and role != "admin":
            raise AuthError(409, "Admins cannot remove their own admin role", error_code="AUTH_014")
        updated = await self.store.db.fetchrow(
            "UPDATE users SET role = $2, updated_at = now() WHERE id = $1"
            " RETURNING id, email, name, role, disabled_at, created_at, last_login_at",
            row["id"],
            role,
        )
        assert updated is not None
        log.info("user role changed", user_id=user_id, role=role, by=admin.user_id)
        return user_from_row(updated)

    async def set_disabled(self, admin: Principal, user_id: str, disabled: bool) -> User:
        row = await self.store.user_by_id(user_id)
        if row is None:
            raise AuthError(404, "User not found", error_code="AUTH_013")
        if str(row["id"]) == admin.user_id:
            raise AuthError(409, "Admins cannot disable themselves", error_code="AUTH_014")
        async with self.store.db.transaction() as conn:
            updated = await conn.fetchrow(
                "UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END,"
                " updated_at = now() WHERE id = $1"
                " RETURNING id, email, name, role, disabled_at, created_at, last_login_at",
                row["id"],
                disabled,
            )
            if disabled:
                await conn.execute(
                    "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", row["id"]
                )
            subject = contract.USER_DISABLED if disabled else contract.USER_ENABLED
            await enqueue_event(
                conn,
                subject,
                new_event(
                    subject.removeprefix("auth."), contract.UserStatusChanged(str(row["id"])), actor=admin.user_id
                ),
            )
        assert updated is not None
        log.info("user status changed", user_id=user_id, disabled=disabled, by=admin.user_id)
        return user_from_row(updated)

    async def ensure_admin(self, email: str, password: str) -> User:
        """Bootstrap: make sure this admin account exists (an existing account is promoted, its password kept)."""
        row = await self.store.user_by_email(email)
        if row is None:
            try:
                return await self.register(
                    RegisterRequest(email=email, password=password, name="Administrator"), role="admin"
                )
            except AuthError as exc:
                if exc.status_code != 409:
                    raise
                row = await self.store.user_by_email(email)
        assert row is not None
        if row["role"] != "admin":
            await self.store.db.execute("UPDATE users SET role = 'admin', updated_at = now() WHERE id = $1", row["id"])
            row = await self.store.user_by_email(email)
            assert row is not None
        return user_from_row(row)
