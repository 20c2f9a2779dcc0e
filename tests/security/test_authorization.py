"""Authorization matrix: other users' ids, admin-only routes, and forged or stale credentials.

Three tables drive it, so what is covered reads off the page:

- `CROSS_USER`: every route that takes an object id, called by user B with user A's real id:
  the seed's answer (upload 403, everything else 404), nothing of A's object in the answer, and
  A's object unchanged afterwards.
- `ADMIN_ONLY`: every admin-only route refuses a plain user (403) and an anonymous caller (401),
  and does nothing to its target.
- `BAD_CREDENTIALS` x `SAMPLE_ROUTES`: forged, tampered, expired, misdirected, revoked and garbage
  credentials get 401 on routes of every service (admin routes included: a forged `role: admin`
  claim must not even reach the role guard).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
import websockets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.accounts import Account, current_signing_key, login, register_and_login
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.infra import TestInfra
from tests.security.hostile import jpeg_bytes, marker, wav_bytes, zip_bytes

SONIC = "/api/v1/trapdoor/sonic"
AUDITS = "/api/v1/audits"
FINAL = {"completed", "failed", "cancelled"}


@dataclass
class World:
    """User A's objects (each carrying secrets that must never reach B), B, the admin, a client."""

    http: httpx.AsyncClient
    owner: Account
    intruder: Account
    admin: Account
    ids: dict[str, str]
    secrets: list[str] = field(default_factory=list)
    api_token: str = ""

    def fill(self, template: str) -> str:
        return template.format(**self.ids)


async def poll(check: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("condition not reached in time")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(platform: str) -> AsyncIterator[World]:
    async with httpx.AsyncClient(base_url=platform, timeout=60) as http:
        owner = await register_and_login(http)
        intruder = await register_and_login(http)
        admin = await login(http, ADMIN_EMAIL, ADMIN_PASSWORD)
        tag = uuid.uuid4().hex[:10]
        w = World(http=http, owner=owner, intruder=intruder, admin=admin, ids={"user_id": owner.id})
        h = owner.headers

        note_name, note_text = f"victim-notes-{tag}.txt", f"victim exam answers {tag}"
        r = await http.post("/upload/", headers=h, files={"file": (note_name, note_text.encode(), "text/plain")})
        assert r.status_code == 201, r.text
        w.ids["file_id"] = r.json()["data"]["file_id"]

        voice_name = f"victim-voice-{tag}.wav"
        r = await http.post(f"{SONIC}/upload", headers=h, files={"file": (voice_name, wav_bytes(0.5))})
        assert r.status_code == 202, r.text
        w.ids["job_id"] = r.json()["data"]["job_id"]

        # An archive the worker refuses while unpacking (no scan runs); tier lifted so quotas never interfere.
        r = await http.put(f"/api/v1/usage/tiers/{owner.id}", headers=admin.headers, json={"tier": "enterprise"})
        assert r.status_code == 200, r.text
        repo_name = f"victim-repo-{tag}.zip"
        r = await http.post(AUDITS, headers=h, files={"file": (repo_name, zip_bytes({f"../{marker()}.txt": b"x"}))})
        assert r.status_code == 202, r.text
        w.ids["audit_id"] = r.json()["data"]["id"]

        token_name = f"victim-token-{tag}"
        r = await http.post("/api/v1/tokens", headers=h, json={"name": token_name})
        assert r.status_code == 201, r.text
        w.ids["token_id"] = r.json()["data"]["id"]
        w.api_token = r.json()["data"]["token"]

        w.secrets = [note_name, note_text, voice_name, repo_name, token_name, w.api_token, owner.email, tag]
        yield w

        # Let the transcription end first: deleting a job while its worker writes the transcripts races.
        async def job_done() -> bool:
            r = await http.get(f"{SONIC}/jobs/{w.ids['job_id']}", headers=h)
            return r.status_code != 200 or r.json()["data"]["status"] in FINAL

        await poll(job_done, timeout=120)
        await http.delete(f"{SONIC}/jobs/{w.ids['job_id']}", headers=h)
        await http.delete(f"{AUDITS}/{w.ids['audit_id']}", headers=h)
        await http.delete(f"/upload/{w.ids['file_id']}", headers=h)


def assert_nothing_leaks(world: World, response: httpx.Response) -> None:
    text = response.text + json.dumps(dict(response.headers))
    for secret in world.secrets:
        assert secret not in text, f"{secret!r} leaked in {response.request.method} {response.request.url.path}"


# --- user B with user A's ids -----------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    status: int
    body: dict[str, Any] | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


CROSS_USER = [
    # upload: the seed answers 403 for another user's file.
    Probe("GET", "/upload/{file_id}/info", 403),
    Probe("GET", "/upload/{file_id}/download", 403),
    Probe("DELETE", "/upload/{file_id}", 403),
    # sonic, audit, tokens: 404, the object is not the caller's to know about.
    Probe("GET", SONIC + "/jobs/{job_id}", 404),
    Probe("GET", SONIC + "/jobs/{job_id}/download?format=txt", 404),
    Probe("GET", SONIC + "/jobs/{job_id}/download?format=zip", 404),
    Probe("DELETE", SONIC + "/jobs/{job_id}", 404),
    Probe("GET", AUDITS + "/{audit_id}", 404),
    Probe("GET", AUDITS + "/{audit_id}/report?format=json", 404),
    Probe("GET", AUDITS + "/{audit_id}/report?format=sbom", 404),
    Probe("DELETE", AUDITS + "/{audit_id}", 404),
    Probe("GET", "/api/v1/tokens/{token_id}", 404),
    Probe("POST", "/api/v1/tokens/{token_id}/refresh", 404),
    Probe("DELETE", "/api/v1/tokens/{token_id}", 404),
    # usage: another user's figures are admin-only.
    Probe("GET", "/api/v1/usage/stats?user_id={user_id}", 403),
    Probe("GET", "/api/v1/usage/history?user_id={user_id}", 403),
]


@pytest.mark.parametrize("probe", CROSS_USER, ids=str)
async def test_other_users_ids_are_refused_and_leak_nothing(world: World, probe: Probe) -> None:
    r = await world.http.request(probe.method, world.fill(probe.path), headers=world.intruder.headers, json=probe.body)
    assert r.status_code == probe.status, r.text
    body = r.json()
    assert body["success"] is False
    assert set(body) == {"success", "error", "error_code"}
    assert_nothing_leaks(world, r)


LISTS = [
    ("/upload/?limit=1000", "files", "file_id", "file_id"),
    (SONIC + "/jobs?limit=100", "jobs", "job_id", "job_id"),
    (AUDITS + "?limit=100", "audits", "id", "audit_id"),
]


@pytest.mark.parametrize(("path", "key", "field_name", "id_name"), LISTS, ids=[p for p, *_ in LISTS])
async def test_other_users_objects_are_not_listed(
    world: World, path: str, key: str, field_name: str, id_name: str
) -> None:
    r = await world.http.get(path, headers=world.intruder.headers)
    assert r.status_code == 200
    assert world.ids[id_name] not in {item[field_name] for item in r.json()["data"][key]}
    assert_nothing_leaks(world, r)
    tokens = await world.http.get("/api/v1/tokens", headers=world.intruder.headers)
    assert world.ids["token_id"] not in {t["id"] for t in tokens.json()["data"]}


@pytest.mark.parametrize("path", [SONIC + "/ws/{job_id}", AUDITS + "/{audit_id}/events"])
async def test_other_users_websockets_are_refused(world: World, path: str) -> None:
    base = str(world.http.base_url).replace("http", "ws", 1).rstrip("/")
    for token in (world.intruder.access_token, "garbage"):
        with pytest.raises(websockets.exceptions.WebSocketException):
            async with websockets.connect(f"{base}{world.fill(path)}?token={token}") as socket:
                await socket.recv()
    with pytest.raises(websockets.exceptions.WebSocketException):  # no credentials at all
        async with websockets.connect(f"{base}{world.fill(path)}") as socket:
            await socket.recv()


async def test_owner_still_has_everything_after_the_intrusions(world: World) -> None:
    """Runs after the matrix: B's DELETEs and refreshes changed nothing of A's."""
    h = world.owner.headers
    info = await world.http.get(world.fill("/upload/{file_id}/info"), headers=h)
    assert info.status_code == 200
    assert (await world.http.get(world.fill("/upload/{file_id}/download"), headers=h)).content.startswith(b"victim")
    job = await world.http.get(world.fill(SONIC + "/jobs/{job_id}"), headers=h)
    assert job.status_code == 200
    assert job.json()["data"]["status"] != "cancelled"
    audit = await world.http.get(world.fill(AUDITS + "/{audit_id}"), headers=h)
    assert audit.status_code == 200
    token = await world.http.get(world.fill("/api/v1/tokens/{token_id}"), headers=h)
    assert token.json()["data"]["is_active"] is True
    assert token.json()["data"]["last_used_at"] is None  # B's refresh did not touch it
    assert (await world.http.get("/api/v1/auth/me", headers={"X-API-Key": world.api_token})).status_code == 200


# --- admin-only routes ------------------------------------------------------------------------------

ADMIN_ONLY = [
    Probe("GET", "/api/v1/admin/users", 403),
    Probe("GET", "/api/v1/admin/users?skip=0&limit=5", 403),
    Probe("PATCH", "/api/v1/admin/users/{user_id}/role", 403, {"role": "admin"}),
    Probe("POST", "/api/v1/admin/users/{user_id}/disable", 403),
    Probe("POST", "/api/v1/admin/users/{user_id}/enable", 403),
    Probe("POST", "/api/v1/admin/keys/rotate", 403),
    Probe("GET", "/upload/admin/files", 403),
    Probe("GET", "/upload/admin/stats", 403),
    Probe("PUT", "/api/v1/usage/tiers/{user_id}", 403, {"tier": "free"}),
    Probe("GET", "/api/v1/usage/stats?user_id={user_id}", 403),
    Probe("GET", "/api/v1/usage/history?user_id={user_id}", 403),
]


@pytest.mark.parametrize("probe", ADMIN_ONLY, ids=str)
async def test_admin_routes_refuse_plain_users_and_anonymous_callers(world: World, probe: Probe) -> None:
    path = world.fill(probe.path)
    r = await world.http.request(probe.method, path, headers=world.intruder.headers, json=probe.body)
    assert r.status_code == 403, r.text
    assert r.json()["success"] is False
    assert_nothing_leaks(world, r)
    if "user_id=" not in path:  # the target is no admin either (their own usage they may read)
        r = await world.http.request(probe.method, path, headers=world.owner.headers, json=probe.body)
        assert r.status_code == 403, r.text
    r = await world.http.request(probe.method, path, json=probe.body)
    assert r.status_code == 401, r.text
    assert r.json()["error_code"] == "UNAUTHORIZED"


async def test_admin_routes_work_for_the_admin_and_the_target_is_untouched(world: World) -> None:
    """The same routes answer the admin (so the 403s above are the guard, not a broken route), and
    the refused calls changed nothing: A is still a plain, enabled user on the enterprise tier."""
    h = world.admin.headers
    for path in (
        "/api/v1/admin/users?limit=5",
        "/upload/admin/files?limit=5",
        "/upload/admin/stats",
        world.fill("/api/v1/usage/stats?user_id={user_id}"),
        world.fill("/api/v1/usage/history?user_id={user_id}&days=2"),
    ):
        assert (await world.http.get(path, headers=h)).status_code == 200, path
    me = (await world.http.get("/api/v1/auth/me", headers=world.owner.headers)).json()["data"]
    assert me["role"] == "user"
    assert me["disabled"] is False
    stats = (await world.http.get("/api/v1/usage/stats", headers=world.owner.headers)).json()["data"]
    assert stats["tier"] == "enterprise"


# --- forged, stale and garbage credentials ----------------------------------------------------------

SAMPLE_ROUTES = [
    ("GET", "/api/v1/auth/me"),  # auth
    ("GET", "/api/v1/tokens"),
    ("GET", "/api/v1/admin/users"),  # a forged `role: admin` must not even reach the guard
    ("GET", "/upload/"),  # upload
    ("GET", "/upload/{file_id}/info"),
    ("GET", "/upload/admin/stats"),
    ("POST", "/api/v1/trapdoor/ghost/extract"),  # ghost
    ("GET", SONIC + "/jobs"),  # sonic
    ("GET", SONIC + "/jobs/{job_id}"),
    ("GET", AUDITS),  # audit
    ("GET", AUDITS + "/{audit_id}"),
    ("GET", "/api/v1/usage/stats"),
]


@dataclass
class Keys:
    kid: str
    private: Any
    public_pem: bytes


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def signing_key(infra: TestInfra, world: World) -> Keys:
    """Auth's current signing key, with its public half in PEM."""
    kid, private = await current_signing_key(infra.database_url)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Keys(kid=kid, private=private, public_pem=public_pem)


def claims(world: World, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": "forge-auth",
        "aud": "forge",
        "sub": world.owner.id,
        "email": world.owner.email,
        "role": "admin",
        "typ": "access",
        "sid": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(keys: Keys, payload: dict[str, Any], *, kid: str | None = None) -> str:
    return jwt.encode(payload, keys.private, algorithm="EdDSA", headers={"kid": kid or keys.kid})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(payload: dict[str, Any], kid: str) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    return f"{header}.{b64(json.dumps(payload).encode())}."


def hmac_with_public_key(keys: Keys, payload: dict[str, Any]) -> str:
    """Algorithm confusion: HS256 keyed with the public key a verifier might hand to HMAC."""
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": keys.kid}).encode())
    body = b64(json.dumps(payload).encode())
    signature = hmac.new(keys.public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(signature)}"


def with_payload_swapped(token: str, payload: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{b64(json.dumps(payload).encode())}.{signature}"


def api_token_with_valid_checksum() -> str:
    """A well-formed `ftk_` token (right length and CRC32 check) that auth never issued."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    body = "".join(alphabet[b % 62] for b in uuid.uuid4().bytes + uuid.uuid4().bytes + uuid.uuid4().bytes)[:43]

    def base62(number: int, width: int) -> str:
        out = ""
        while number:
            number, rest = divmod(number, 62)
            out = alphabet[rest] + out
        return out.rjust(width, "0")

    return f"ftk_{body}{base62(zlib.crc32(body.encode()), 6)}"


Credential = Callable[[World, Keys], Awaitable[dict[str, str]]]


async def _none(w: World, k: Keys) -> dict[str, str]:
    return {}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _disabled_user(w: World, k: Keys) -> dict[str, str]:
    victim = await register_and_login(w.http)
    r = await w.http.post(f"/api/v1/admin/users/{victim.id}/disable", headers=w.admin.headers)
    assert r.status_code == 200, r.text

    async def refused() -> bool:
        return (await w.http.get("/api/v1/auth/me", headers=victim.headers)).status_code == 401

    await poll(refused, timeout=10)
    return victim.headers


async def _revoked_api_token(w: World, k: Keys) -> dict[str, str]:
    r = await w.http.post("/api/v1/tokens", headers=w.intruder.headers, json={"name": "soon revoked"})
    token = r.json()["data"]
    assert (await w.http.delete(f"/api/v1/tokens/{token['id']}", headers=w.intruder.headers)).status_code == 200
    return {"X-API-Key": token["token"]}


def _static(headers: dict[str, str]) -> Credential:
    async def make(w: World, k: Keys) -> dict[str, str]:
        return headers

    return make


def _jwt(build: Callable[[World, Keys], str]) -> Credential:
    async def make(w: World, k: Keys) -> dict[str, str]:
        return _bearer(build(w, k))

    return make


def _foreign_key(w: World, k: Keys) -> str:
    return jwt.encode(claims(w), ed25519.Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": k.kid})


BAD_CREDENTIALS: dict[str, Credential] = {
    "none": _none,
    "garbage bearer": _static(_bearer("garbage")),
    "bearer without a token": _static({"Authorization": "Bearer"}),
    "basic scheme": _static({"Authorization": "Basic " + b64(b"admin@forge.test:admin-password-123")}),
    "oversized bearer": _static(_bearer("a" * 9000)),
    "alg none": _jwt(lambda w, k: unsigned(claims(w), k.kid)),
    "HS256 keyed with the public key": _jwt(lambda w, k: hmac_with_public_key(k, claims(w))),
    "signed by a foreign key, real kid": _jwt(_foreign_key),
    "unknown kid": _jwt(lambda w, k: signed(k, claims(w), kid=uuid.uuid4().hex)),
    "real token, payload made admin": _jwt(
        lambda w, k: with_payload_swapped(w.intruder.access_token, claims(w, sub=w.intruder.id))
    ),
    "expired": _jwt(lambda w, k: signed(k, claims(w, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600))),
    "not yet valid": _jwt(lambda w, k: signed(k, claims(w, nbf=int(time.time()) + 3600))),
    "no expiry": _jwt(lambda w, k: signed(k, claims(w, exp=None))),
    "wrong audience": _jwt(lambda w, k: signed(k, claims(w, aud="someone-else"))),
    "wrong issuer": _jwt(lambda w, k: signed(k, claims(w, iss="evil-auth"))),
    "refresh token used as access token": _jwt(lambda w, k: w.intruder.refresh_token),
    "token of another type": _jwt(lambda w, k: signed(k, claims(w, typ="refresh"))),
    "unknown role": _jwt(lambda w, k: signed(k, claims(w, role="root"))),
    "API token, bad checksum": _static({"X-API-Key": "ftk_" + "A" * 49}),
    "API token never issued": _static({"X-API-Key": api_token_with_valid_checksum()}),
    "API token never issued, as bearer": _static(_bearer(api_token_with_valid_checksum())),
    "API token revoked": _revoked_api_token,
    "garbage X-API-Key": _static({"X-API-Key": "not-a-token"}),
    "disabled user's JWT": _disabled_user,
}


async def send(world: World, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    files = {"file": ("photo.jpg", jpeg_bytes())} if method == "POST" else None
    return await world.http.request(method, world.fill(path), headers=headers, files=files)


async def test_a_correctly_forged_token_is_accepted(world: World, signing_key: Keys) -> None:
    """Control for the table below: claims right, signature right -> accepted, so each 401 there is
    due to the one thing that case gets wrong."""
    r = await world.http.get("/api/v1/auth/me", headers=_bearer(signed(signing_key, claims(world, role="user"))))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("name", list(BAD_CREDENTIALS))
async def test_bad_credentials_get_401_on_every_service(world: World, signing_key: Keys, name: str) -> None:
    headers = await BAD_CREDENTIALS[name](world, signing_key)
    for method, path in SAMPLE_ROUTES:
        r = await send(world, method, path, headers)
        assert r.status_code == 401, (method, path, r.text)
        body = r.json()
        assert body == {"success": False, "error": body["error"], "error_code": "UNAUTHORIZED"}
        assert_nothing_leaks(world, r)
