"""The auth service over HTTP and NATS, with the security properties its issue demands."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import jwt
import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from services.auth import api_tokens
from tests.accounts import Account, current_signing_key, login, register_and_login
from tests.conftest import ADMIN_EMAIL
from tests.infra import TestInfra

ME = "/api/v1/auth/me"


def b64(data: dict[str, object] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


async def test_register_validates_and_hides_secrets(client: httpx.AsyncClient) -> None:
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    r = await client.post("/api/v1/auth/register", json={"email": email, "password": "long-enough-pw", "name": "N"})
    assert r.status_code == 201
    body = r.json()
    assert body["success"] is True
    assert body["data"]["email"] == email
    assert body["data"]["role"] == "user"
    assert "password" not in r.text
    assert "hash" not in r.text

    dup = await client.post("/api/v1/auth/register", json={"email": email.upper(), "password": "long-enough-pw"})
    assert dup.status_code == 409
    assert dup.json()["error_code"] == "AUTH_003"

    weak = await client.post("/api/v1/auth/register", json={"email": f"w{email}", "password": "short"})
    assert weak.status_code == 422
    for bad in (
        {"email": "not-an-email", "password": "long-enough-pw"},
        {"email": 42, "password": "long-enough-pw"},
        {"email": f"x{email}", "password": "long-enough-pw", "role": "admin"},
        {"password": "long-enough-pw"},
    ):
        r = await client.post("/api/v1/auth/register", json=bad)
        assert r.status_code == 422, bad
        assert r.json()["success"] is False
    huge = await client.post("/api/v1/auth/register", content=b"{" + b" " * 2_000_000 + b"}")
    assert huge.status_code == 413


async def test_login_errors_do_not_reveal_whether_the_email_exists(client: httpx.AsyncClient, user: Account) -> None:
    async def attempt(email: str) -> tuple[float, httpx.Response]:
        start = time.perf_counter()
        r = await client.post("/api/v1/auth/login", json={"email": email, "password": "wrong-password-1"})
        return time.perf_counter() - start, r

    known, unknown = [], []
    for _ in range(2):
        t1, r1 = await attempt(user.email)
        t2, r2 = await attempt(f"ghost-{uuid.uuid4().hex[:6]}@example.com")
        assert r1.status_code == r2.status_code == 401
        assert r1.json() == r2.json()
        known.append(t1)
        unknown.append(t2)
    # Same argon2 work either way: the medians stay within a small factor of each other.
    ratio = statistics.median(known) / statistics.median(unknown)
    assert 0.33 < ratio < 3.0
    # Clear the failures so the account is usable by later tests.
    await login(client, user.email, user.password)


async def test_access_token_claims_and_jwks_with_third_party_library(client: httpx.AsyncClient, user: Account) -> None:
    header = jwt.get_unverified_header(user.access_token)
    assert header["alg"] == "EdDSA"
    assert header["kid"]
    claims = claims_of(user.access_token)
    for claim in ("iss", "aud", "sub", "role", "exp", "iat", "jti", "typ"):
        assert claim in claims
    assert claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == 15 * 60  # type: ignore[operator]

    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert all("d" not in key for key in jwks["keys"])  # public halves only
    # What an API gateway does: verify with the JWKS alone, using another JOSE implementation.
    key_set = KeySet.import_key_set(jwks)
    token = jose_jwt.decode(user.access_token, key_set, algorithms=["EdDSA"])
    assert token.claims["sub"] == user.id
    assert token.header["kid"] == header["kid"]


async def test_refresh_rotation_and_reuse_detection(client: httpx.AsyncClient) -> None:
    account = await register_and_login(client)
    first = account.refresh_token
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert r.status_code == 200
    second = r.json()["data"]["refresh_token"]
    new_access = r.json()["data"]["access_token"]
    assert second != first
    assert (await client.get(ME, headers={"Authorization": f"Bearer {new_access}"})).status_code == 200

    # Presenting the used token again revokes the whole family, including the newest token.
    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert reuse.status_code == 401
    assert reuse.json()["error_code"] == "AUTH_006"
    after = await client.post("/api/v1/auth/refresh", json={"refresh_token": second})
    assert after.status_code == 401

    # A refresh token is not an access token, and the reverse.
    fresh = await login(client, account.email, account.password)
    assert (await client.get(ME, headers={"Authorization": f"Bearer {fresh.refresh_token}"})).status_code == 401
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": fresh.access_token})
    assert r.status_code == 401


async def test_logout_revokes_the_sessions_refresh_tokens(client: httpx.AsyncClient) -> None:
    account = await register_and_login(client)
    other_session = await login(client, account.email, account.password)
    r = await client.post("/api/v1/auth/logout", headers=account.headers)
    assert r.status_code == 200
    assert r.json()["data"]["revoked_refresh_tokens"] == 1
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})).status_code == 401
    # The other session is untouched until logging out everywhere.
    ok_refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": other_session.refresh_token})
    assert ok_refresh.status_code == 200
    everywhere = await client.post("/api/v1/auth/logout", headers=other_session.headers, json={"all_sessions": True})
    assert everywhere.status_code == 200
    assert everywhere.json()["data"]["revoked_refresh_tokens"] >= 1
    assert (await client.post("/api/v1/auth/logout")).status_code == 401


def forge_token(claims: dict[str, object], *, kid: str) -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


async def test_forged_and_invalid_access_tokens_are_rejected(
    client: httpx.AsyncClient, user: Account, infra: TestInfra
) -> None:
    claims = claims_of(user.access_token)
    kid = jwt.get_unverified_header(user.access_token)["kid"]
    jwks = (await client.get("/.well-known/jwks.json")).json()
    public = jwt.PyJWK.from_dict(jwks["keys"][0]).key
    public_pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    body = {**claims, "role": "admin"}
    header, _, signature = user.access_token.split(".")
    hs256 = f"{b64({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{b64(body)}"
    hs256 += "." + b64(hmac.new(public_pem, hs256.encode(), hashlib.sha256).digest())
    candidates = {
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{b64(body)}.",
        "HS256 signed with the public key": hs256,
        "another key, same kid": forge_token(body, kid=kid),
        "another key, unknown kid": forge_token(body, kid="attacker"),
        "tampered payload": f"{header}.{b64(body)}.{signature}",
        "garbage": "not.a.jwt",
    }
    real_kid, key = await current_signing_key(infra.database_url)
    now = int(time.time())

    def sign(**changes: object) -> str:
        return jwt.encode({**claims, **changes}, key, algorithm="EdDSA", headers={"kid": real_kid})  # type: ignore[arg-type]

    candidates |= {
        "wrong issuer": sign(iss="someone-else"),
        "wrong audience": sign(aud="another-api"),
        "expired": sign(iat=now - 3600, nbf=now - 3600, exp=now - 60),
        "refresh typ": sign(typ="refresh"),
        "no typ": sign(typ=None),
        "bad role": sign(role="root"),
    }
    assert (await client.get(ME, headers={"Authorization": f"Bearer {sign()}"})).status_code == 200
    for name, token in candidates.items():
        r = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, name
        assert r.json()["error_code"] == "UNAUTHORIZED", name


async def test_key_rotation_keeps_old_tokens_valid(client: httpx.AsyncClient, admin: Account, user: Account) -> None:
    old_kid = jwt.get_unverified_header(user.access_token)["kid"]
    r = await client.post("/api/v1/admin/keys/rotate", headers=admin.headers)
    assert r.status_code == 200
    new_kid = r.json()["data"]["kid"]
    assert new_kid != old_kid
    kids = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    assert {old_kid, new_kid} <= kids
    assert (await client.get(ME, headers=user.headers)).status_code == 200
    fresh = await login(client, user.email, user.password)
    assert jwt.get_unverified_header(fresh.access_token)["kid"] == new_kid
    # Services learn the new key on first sight of its kid.
    assert (await client.get(ME, headers=fresh.headers)).status_code == 200
    forbidden = await client.post("/api/v1/admin/keys/rotate", headers=user.headers)
    assert forbidden.status_code == 403


async def test_api_tokens_lifecycle(
    client: httpx.AsyncClient, user: Account, other_user: Account, infra: TestInfra
) -> None:
    r = await client.post("/api/v1/tokens", headers=user.headers, json={"name": "ci", "scopes": ["read", "write"]})
    assert r.status_code == 201
    created = r.json()["data"]
    token = created["token"]
    assert token.startswith("ftk_")
    assert api_tokens.is_well_formed(token)
    assert not api_tokens.is_well_formed(token[:-1] + ("A" if token[-1] != "A" else "B"))

    listed = await client.get("/api/v1/tokens", headers=user.headers)
    assert token not in listed.text
    [info] = [t for t in listed.json()["data"] if t["id"] == created["id"]]
    assert info["prefix"] == created["prefix"]
    assert info["is_active"] is True
    for field in ("created_at", "last_used_at", "expires_at", "revoked_at"):
        assert field in info

    # Stored as a keyed hash only.
    conn = await asyncpg.connect(infra.database_url)
    try:
        dump = await conn.fetchval("SELECT string_agg(t::text, ' ') FROM auth.api_tokens t")
    finally:
        await conn.close()
    assert token not in dump

    for headers in ({"Authorization": f"Bearer {token}"}, {"X-API-Key": token}):
        me = await client.get(ME, headers=headers)
        assert me.status_code == 200
        assert me.json()["data"]["id"] == user.id

    touched = await client.post(f"/api/v1/tokens/{created['id']}/refresh", headers=user.headers)
    assert touched.status_code == 200
    assert touched.json()["data"]["last_used_at"] is not None

    # Another user's token id answers 404 everywhere.
    for method, path in (("GET", ""), ("DELETE", ""), ("POST", "/refresh")):
        r = await client.request(method, f"/api/v1/tokens/{created['id']}{path}", headers=other_user.headers)
        assert r.status_code == 404
    assert (await client.get("/api/v1/tokens/not-a-uuid", headers=user.headers)).status_code == 404

    revoked = await client.delete(f"/api/v1/tokens/{created['id']}", headers=user.headers)
    assert revoked.status_code == 200
    assert revoked.json()["data"]["revoked_at"] is not None
    deadline = time.monotonic() + 5
    status = 200
    while time.monotonic() < deadline:
        status = (await client.get(ME, headers={"Authorization": f"Bearer {token}"})).status_code
        if status == 401:
            break
        await asyncio.sleep(0.2)
    assert status == 401

    bad = await client.post("/api/v1/tokens", headers=user.headers, json={"name": "x", "expires_in_days": 0})
    assert bad.status_code == 422
    bad = await client.post("/api/v1/tokens", headers=user.headers, json={"name": "", "scopes": ["ok"]})
    assert bad.status_code == 422
    unknown = await client.get(ME, headers={"Authorization": f"Bearer {api_tokens.new_token()}"})
    assert unknown.status_code == 401


async def test_expired_api_token_is_rejected(client: httpx.AsyncClient, user: Account, infra: TestInfra) -> None:
    r = await client.post("/api/v1/tokens", headers=user.headers, json={"name": "short", "expires_in_days": 1})
    token, token_id = r.json()["data"]["token"], r.json()["data"]["id"]
    conn = await asyncpg.connect(infra.database_url)
    try:
        await conn.execute(
            "UPDATE auth.api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1", uuid.UUID(token_id)
        )
    finally:
        await conn.close()
    await asyncio.sleep(3.5)  # past the services' short positive cache
    assert (await client.get(ME, headers={"X-API-Key": token})).status_code == 401
    info = await client.get(f"/api/v1/tokens/{token_id}", headers=user.headers)
    assert info.json()["data"]["is_active"] is False


async def test_disabled_user_is_locked_out_everywhere(client: httpx.AsyncClient, admin: Account) -> None:
    victim = await register_and_login(client)
    token = (await client.post("/api/v1/tokens", headers=victim.headers, json={"name": "t"})).json()["data"]["token"]
    assert (await client.get(ME, headers={"X-API-Key": token})).status_code == 200

    users = await client.get("/api/v1/admin/users?limit=1000", headers=admin.headers)
    assert users.status_code == 200
    assert any(u["id"] == victim.id for u in users.json()["data"]["users"])
    assert (await client.get("/api/v1/admin/users", headers=victim.headers)).status_code == 403

    r = await client.post(f"/api/v1/admin/users/{victim.id}/disable", headers=admin.headers)
    assert r.status_code == 200
    assert r.json()["data"]["disabled"] is True
    deadline = time.monotonic() + 5
    statuses: tuple[int, int] = (200, 200)
    while time.monotonic() < deadline:
        statuses = (
            (await client.get(ME, headers=victim.headers)).status_code,
            (await client.get(ME, headers={"X-API-Key": token})).status_code,
        )
        if statuses == (401, 401):
            break
        await asyncio.sleep(0.2)
    assert statuses == (401, 401)
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": victim.refresh_token})).status_code == 401
    relogin = await client.post("/api/v1/auth/login", json={"email": victim.email, "password": victim.password})
    assert relogin.status_code == 403

    await client.post(f"/api/v1/admin/users/{victim.id}/enable", headers=admin.headers)
    back = await login(client, victim.email, victim.password)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (await client.get(ME, headers=back.headers)).status_code != 200:
        await asyncio.sleep(0.2)
    assert (await client.get(ME, headers=back.headers)).status_code == 200


async def test_admin_role_changes(client: httpx.AsyncClient, admin: Account, user: Account) -> None:
    target = await register_and_login(client)
    r = await client.patch(f"/api/v1/admin/users/{target.id}/role", headers=admin.headers, json={"role": "admin"})
    assert r.status_code == 200
    assert r.json()["data"]["role"] == "admin"
    promoted = await login(client, target.email, target.password)
    assert claims_of(promoted.access_token)["role"] == "admin"
    bad = await client.patch(f"/api/v1/admin/users/{target.id}/role", headers=admin.headers, json={"role": "root"})
    assert bad.status_code == 422
    missing = await client.patch(
        f"/api/v1/admin/users/{uuid.uuid4()}/role", headers=admin.headers, json={"role": "user"}
    )
    assert missing.status_code == 404
    selfdemote = await client.patch(
        f"/api/v1/admin/users/{admin.id}/role", headers=admin.headers, json={"role": "user"}
    )
    assert selfdemote.status_code == 409
    forbidden = await client.patch(f"/api/v1/admin/users/{user.id}/role", headers=user.headers, json={"role": "admin"})
    assert forbidden.status_code == 403
    page = await client.get("/api/v1/admin/users?skip=0&limit=1", headers=admin.headers)
    pagination = page.json()["data"]["pagination"]
    assert pagination["count"] == 1
    assert pagination["has_more"] is True
    assert (await client.get("/api/v1/admin/users?limit=5000", headers=admin.headers)).status_code == 422


async def test_brute_force_is_slowed_then_refused(client: httpx.AsyncClient) -> None:
    victim = await register_and_login(client)
    statuses = []
    for _ in range(5):
        r = await client.post("/api/v1/auth/login", json={"email": victim.email, "password": "wrong-guess-123"})
        statuses.append(r.status_code)
    assert statuses == [401] * 5
    locked = await client.post("/api/v1/auth/login", json={"email": victim.email, "password": "wrong-guess-123"})
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    # The right password during the lockout does not log in.
    right = await client.post("/api/v1/auth/login", json={"email": victim.email, "password": victim.password})
    assert right.status_code == 429
    assert "access_token" not in right.text


async def test_password_is_rehashed_when_parameters_change(client: httpx.AsyncClient, infra: TestInfra) -> None:
    account = await register_and_login(client)
    weak_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(account.password)
    conn = await asyncpg.connect(infra.database_url)
    try:
        await conn.execute("UPDATE auth.users SET password_hash = $1 WHERE id = $2", weak_hash, uuid.UUID(account.id))
        await login(client, account.email, account.password)
        stored = await conn.fetchval("SELECT password_hash FROM auth.users WHERE id = $1", uuid.UUID(account.id))
    finally:
        await conn.close()
    assert stored != weak_hash
    assert stored.startswith("$argon2id$")
    assert "m=65536" in stored


async def test_no_secret_reaches_the_logs(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    password = "very-secret-password-xyz"
    account = await register_and_login(client, password=password)
    created = await client.post("/api/v1/tokens", headers=account.headers, json={"name": "logged?"})
    token = created.json()["data"]["token"]
    await client.get(ME, headers={"X-API-Key": token})
    await client.post("/api/v1/auth/login", json={"email": account.email, "password": "wrong-" + password})
    text = caplog.text
    assert caplog.records  # the requests were logged at all
    for secret in (password, token, account.access_token, account.refresh_token):
        assert secret not in text


async def test_bootstrap_admin_exists(client: httpx.AsyncClient, admin: Account) -> None:
    assert admin.role == "admin"
    me = await client.get(ME, headers=admin.headers)
    assert me.json()["data"]["email"] == ADMIN_EMAIL


async def test_access_token_lifetime_setting(user: Account) -> None:
    claims = claims_of(user.access_token)
    issued = datetime.fromtimestamp(claims["iat"], UTC)  # type: ignore[arg-type]
    expires = datetime.fromtimestamp(claims["exp"], UTC)  # type: ignore[arg-type]
    assert expires - issued == timedelta(minutes=15)
