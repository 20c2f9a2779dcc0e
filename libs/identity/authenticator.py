"""Verify bearer credentials the way every service must.

- JWT access tokens are verified locally with auth's public keys (JWKS fetched over NATS,
  cached, refreshed when an unknown `kid` appears). Only asymmetric algorithms are allowed, and
  `iss`, `aud`, `exp` and `typ == "access"` are checked.
- API tokens (`ftk_…`) are introspected by auth over NATS, cached for a few seconds, so a
  revoked token stops working within that time (sooner: revocation events evict the cache).
- Users disabled by an admin are refused even with a still-valid JWT: the authenticator follows
  auth's `auth.user.disabled` / `auth.user.enabled` events from the start of the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from typing import Any

import jwt
import msgspec
from nats.js.api import DeliverPolicy

from libs.contracts import auth as contract
from libs.events.connection import NatsConnection
from libs.events.envelope import Envelope
from libs.events.rpc import RpcError, RpcUnavailable, request
from libs.identity.principal import Principal
from libs.logging import get_logger

log = get_logger(__name__)
ALLOWED_ALGORITHMS = ["EdDSA", "ES256"]
API_TOKEN_PREFIX = "ftk_"


class AuthenticationFailed(Exception):
    """401: the credentials are missing, malformed, forged, expired or revoked."""


class IdentityUnavailable(Exception):
    """503: auth could not be asked (NATS or auth is down) and nothing cached answers."""


class _StatusEvent(msgspec.Struct):
    user_id: str


class Authenticator:
    def __init__(
        self,
        nats: NatsConnection,
        *,
        issuer: str,
        audience: str,
        api_token_ttl: float = 3.0,
        jwks_ttl: float = 300.0,
        leeway: float = 0.0,
    ) -> None:
        self._nats = nats
        self._issuer = issuer
        self._audience = audience
        self._api_token_ttl = api_token_ttl
        self._jwks_ttl = jwks_ttl
        self._leeway = leeway
        self._keys: dict[str, Any] = {}
        self._jwks_fetched_at = 0.0
        self._jwks_lock = asyncio.Lock()
        self._token_cache: dict[str, tuple[float, Principal]] = {}
        self._jwt_cache: dict[bytes, tuple[float, Principal]] = {}
        self._disabled_users: set[str] = set()
        self._watch_tasks: list[asyncio.Task[None]] = []
        self._status_decoder = msgspec.json.Decoder(Envelope[_StatusEvent])

    async def authenticate(self, credential: str) -> Principal:
        credential = credential.strip()
        if not credential:
            raise AuthenticationFailed("empty credential")
        if credential.startswith(API_TOKEN_PREFIX):
            principal = await self._introspect(credential)
        else:
            principal = await self._verify_jwt(credential)
        if principal.user_id in self._disabled_users:
            raise AuthenticationFailed("user is disabled")
        return principal

    async def _verify_jwt(self, token: str) -> Principal:
        # A token verified moments ago need not be verified again (Ed25519 costs ~0.2 ms): cached
        # until its `exp`, at most a minute. Disabled users are still refused by `authenticate`.
        cache_key = hashlib.sha256(token.encode()).digest()
        cached = self._jwt_cache.get(cache_key)
        if cached is not None and cached[0] > time.time():
            return cached[1]
        principal, expires = await self._verify_jwt_uncached(token)
        if len(self._jwt_cache) > 10_000:
            self._jwt_cache.clear()
        self._jwt_cache[cache_key] = (min(expires, time.time() + 60.0), principal)
        return principal

    async def _verify_jwt_uncached(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed("malformed token") from exc
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise AuthenticationFailed("token algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise AuthenticationFailed("token has no key id")
        key = await self._key_for(kid)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=ALLOWED_ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed(f"invalid token: {type(exc).__name__}") from exc
        if claims.get("typ") != "access":
            raise AuthenticationFailed("not an access token")
        role = claims.get("role")
        if role not in ("user", "admin"):
            raise AuthenticationFailed("token has no valid role")
        principal = Principal(user_id=str(claims["sub"]), role=role, email=claims.get("email"), via="jwt")
        return principal, float(claims["exp"])

    async def _key_for(self, kid: str) -> Any:
        if kid in self._keys and time.monotonic() - self._jwks_fetched_at < self._jwks_ttl:
            return self._keys[kid]
        seen = self._jwks_fetched_at
        async with self._jwks_lock:
            refreshed_meanwhile = self._jwks_fetched_at != seen
            if not refreshed_meanwhile:
                # An unknown kid may be a freshly rotated key. Tokens with made-up kids must not
                # make us hammer auth, so refreshes are at most one a second: wait out the rest
                # of that second rather than refuse a genuine new key.
                wait = 1.0 - (time.monotonic() - self._jwks_fetched_at)
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._refresh_jwks()
        if kid not in self._keys:
            raise AuthenticationFailed("unknown signing key")
        return self._keys[kid]

    async def _refresh_jwks(self) -> None:
        try:
            jwks = await request(self._nats, contract.RPC_JWKS, contract.JwksRequest(), contract.Jwks, timeout=2.0)
        except (RpcUnavailable, RpcError) as exc:
            if self._keys:
                log.warning("jwks refresh failed, keeping cached keys", error=str(exc))
                return
            raise IdentityUnavailable("cannot fetch signing keys from auth") from exc
        keys: dict[str, Any] = {}
        for jwk in jwks.keys:
            try:
                parsed = jwt.PyJWK.from_dict(jwk)
            except jwt.PyJWTError:
                continue
            if jwk.get("kid"):
                keys[jwk["kid"]] = parsed.key
        self._keys = keys
        self._jwks_fetched_at = time.monotonic()

    async def _introspect(self, token: str) -> Principal:
        cache_key = hashlib.sha256(token.encode()).hexdigest()
        cached = self._token_cache.get(cache_key)
        now = time.monotonic()
        if cached and now - cached[0] < self._api_token_ttl:
            return cached[1]
        try:
            found = await request(
                self._nats,
                contract.RPC_INTROSPECT,
                contract.IntrospectRequest(token=token),
                contract.TokenPrincipal,
                timeout=2.0,
            )
        except RpcError as exc:
            self._token_cache.pop(cache_key, None)
            raise AuthenticationFailed(str(exc)) from exc
        except RpcUnavailable as exc:
            raise IdentityUnavailable("cannot verify API token: auth is unreachable") from exc
        principal = Principal(
            user_id=found.user_id,
            role=found.role,
            email=found.email,
            via="api_token",
            token_id=found.token_id,
            scopes=tuple(found.scopes),
        )
        if len(self._token_cache) > 10_000:
            self._token_cache.clear()
        self._token_cache[cache_key] = (now, principal)
        return principal

    def forget_token(self, token_id: str) -> None:
        for key, (_, principal) in list(self._token_cache.items()):
            if principal.token_id == token_id:
                self._token_cache.pop(key, None)

    async def start(self) -> None:
        self._watch_tasks = [
            asyncio.create_task(self._watch(subject), name=f"identity-watch-{subject}")
            for subject in ("auth.user.>", contract.TOKEN_REVOKED)
        ]

    async def stop(self) -> None:
        for task in self._watch_tasks:
            task.cancel()
        for task in self._watch_tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self, subject: str) -> None:
        """Follow auth's events on `subject` from the start of the stream (ordered ephemeral consumer)."""
        while True:
            sub = None
            try:
                sub = await self._nats.js.subscribe(
                    subject, stream=contract.STREAM.name, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
                )
                async for msg in sub.messages:
                    self._apply_auth_event(msg.subject, msg.data)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("auth event watch restarting", subject=subject, reason=type(exc).__name__)
            finally:
                if sub is not None:
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()
            await asyncio.sleep(1.0)

    def _apply_auth_event(self, subject: str, data: bytes) -> None:
        if subject == contract.TOKEN_REVOKED:
            try:
                token = msgspec.json.decode(data, type=Envelope[contract.TokenRevoked])
            except msgspec.DecodeError:
                return
            self.forget_token(token.data.token_id)
            return
        try:
            event = self._status_decoder.decode(data)
        except msgspec.DecodeError:
            return
        if subject == contract.USER_DISABLED:
            self._disabled_users.add(event.data.user_id)
            for key, (_, principal) in list(self._token_cache.items()):
                if principal.user_id == event.data.user_id:
                    self._token_cache.pop(key, None)
        elif subject == contract.USER_ENABLED:
            self._disabled_users.discard(event.data.user_id)
