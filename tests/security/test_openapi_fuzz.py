"""Schemathesis against the OpenAPI document the running platform serves.

One test per service (its operations are the subtests), fuzzed as a plain user with random ids;
then the operations that take an id, fuzzed on the user's own real objects (so the 200 answers,
file downloads included, are checked against the document too); then the admin-only operations
as the admin. Each run is bounded: `EXAMPLES` per operation (fewer where a request costs real
work), a fixed seed, no shrinking; schemathesis' examples and coverage phases run too (boundary
values, missing parameters, undocumented methods).

Checks on every response (schemathesis' defaults, less the two below): no 5xx; status code,
content type, headers and body as documented; schema-violating input refused with a 4xx;
undocumented methods answered 405; requests without credentials refused.
Left out: `positive_data_acceptance` (the routes refuse schema-valid input on semantic grounds the
schema cannot express: file contents, password strength, URL policy) and
`allow_header_conformance` (Litestar's automatic OPTIONS answer lists the methods of only one of
the handlers sharing a path).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
import schemathesis
from schemathesis import Case
from schemathesis.config import SchemathesisConfig
from schemathesis.schemas import BaseSchema

from tests.accounts import Account, login, register_and_login
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.security.hostile import png_bytes, wav_bytes, zip_bytes

ApiCase = Case[Any]  # a generated request for one operation of the schema
SEED = 20251123
EXAMPLES = 25

SERVICE_TAGS: dict[str, list[str]] = {
    "platform": ["health"],
    "auth": ["auth", "tokens", "admin"],
    "upload": ["upload"],
    "ghost": ["ghost"],
    "sonic": ["sonic"],
    "audit": ["audits", "usage"],
}

# Operations whose every request costs real work get fewer examples.
BUDGETS: dict[str, int] = {
    "POST /api/v1/auth/register": 6,  # an argon2id hash (64 MiB) per account created
    "POST /api/v1/trapdoor/sonic/upload": 8,  # an ffprobe run per file
    "POST /api/v1/trapdoor/ghost/extract": 10,
    "POST /api/v1/trapdoor/ghost/shred": 10,
    "POST /api/v1/audits": 10,
    "POST /upload": 10,
    "POST /api/v1/admin/keys/rotate": 2,  # a new signing key each time
}
IDS = ("file_id", "token_id", "job_id", "audit_id")
ADMIN_ONLY_PATHS = r"^/(api/v1/admin/|upload/admin/|api/v1/usage/)"


def fuzz_config(base_url: str, token: str, parameters: dict[str, Any] | None = None) -> SchemathesisConfig:
    operations: list[dict[str, Any]] = [
        {"include-name": name, "generation": {"max-examples": budget}} for name, budget in BUDGETS.items()
    ]
    # A well-formed login with a wrong password counts toward the per-address lockout (20 in the
    # window), which would lock every later test out: only malformed logins are sent.
    operations.append({"include-name": "POST /api/v1/auth/login", "generation": {"mode": "negative"}})
    # Litestar converts request data leniently (`"all_sessions": 0` reads as false): harmless here.
    operations.append(
        {"include-name": "POST /api/v1/auth/logout", "checks": {"negative_data_rejection": {"enabled": False}}}
    )
    for name, values in (parameters or {}).items():
        if isinstance(values, dict):  # per-operation fixed values
            operations.append({"include-name": name, "parameters": values})
    return SchemathesisConfig.from_dict(
        {
            "base-url": base_url,
            "seed": SEED,
            "auth": {"openapi": {"BearerToken": {"bearer": token}}},
            "request-timeout": 60,
            "generation": {
                "max-examples": EXAMPLES,
                "no-shrink": True,
                "database": "none",
                "with-security-parameters": False,
            },
            "phases": {"stateful": {"enabled": False}},
            "checks": {"positive_data_acceptance": {"enabled": False}, "allow_header_conformance": {"enabled": False}},
            # Failures print the full request: the tokens are throwaway test accounts', and values
            # like `"all_sessions": 0` would otherwise read `[Filtered]`.
            "output": {"sanitization": {"enabled": False}},
            "operations": operations,
            "parameters": {k: v for k, v in (parameters or {}).items() if not isinstance(v, dict)},
        }
    )


async def call_and_validate(case: ApiCase) -> None:
    # The platform serves from this event loop: the blocking call runs in a thread.
    await asyncio.to_thread(case.call_and_validate)


# --- every service, as a plain user, random ids ----------------------------------------------------


@pytest.fixture
def fuzz_schema(openapi_document: dict[str, Any], platform: str, fuzz_account: Account) -> BaseSchema:
    return schemathesis.openapi.from_dict(openapi_document, config=fuzz_config(platform, fuzz_account.access_token))


LAZY = schemathesis.pytest.from_fixture("fuzz_schema")


@LAZY.include(tag=SERVICE_TAGS["platform"]).parametrize()
async def test_platform_api(case: ApiCase) -> None:
    await call_and_validate(case)


@LAZY.include(tag=SERVICE_TAGS["auth"]).parametrize()
async def test_auth_api(case: ApiCase) -> None:
    await call_and_validate(case)


@LAZY.include(tag=SERVICE_TAGS["upload"]).parametrize()
async def test_upload_api(case: ApiCase) -> None:
    await call_and_validate(case)


@LAZY.include(tag=SERVICE_TAGS["ghost"]).parametrize()
async def test_ghost_api(case: ApiCase) -> None:
    await call_and_validate(case)


@LAZY.include(tag=SERVICE_TAGS["sonic"]).parametrize()
async def test_sonic_api(case: ApiCase) -> None:
    await call_and_validate(case)


@LAZY.include(tag=SERVICE_TAGS["audit"]).parametrize()
async def test_audit_api(case: ApiCase) -> None:
    await call_and_validate(case)


def test_every_operation_belongs_to_a_service(openapi_document: dict[str, Any]) -> None:
    """No operation escapes the per-service runs above."""
    tags = {tag for group in SERVICE_TAGS.values() for tag in group}
    methods = {"get", "put", "post", "delete", "patch"}
    for path, item in openapi_document["paths"].items():
        for method, operation in item.items():
            if method in methods:
                assert set(operation.get("tags", [])) & tags, f"{method.upper()} {path} is fuzzed by no test"


# --- the operations that take an id, on the caller's own objects ------------------------------------


@dataclass
class Owned:
    account: Account
    ids: dict[str, str]  # used by every operation but DELETE
    spare: dict[str, str]  # what the DELETEs remove


async def own_objects(http: httpx.AsyncClient, who: Account) -> dict[str, str]:
    h = who.headers
    ids: dict[str, str] = {}
    r = await http.post("/upload/", headers=h, files={"file": ("mine.png", png_bytes())})
    assert r.status_code == 201, r.text
    ids["file_id"] = r.json()["data"]["file_id"]
    r = await http.post("/api/v1/tokens", headers=h, json={"name": "fuzzed"})
    assert r.status_code == 201, r.text
    ids["token_id"] = r.json()["data"]["id"]
    r = await http.post("/api/v1/trapdoor/sonic/upload", headers=h, files={"file": ("mine.wav", wav_bytes(0.5))})
    assert r.status_code == 202, r.text
    ids["job_id"] = r.json()["data"]["job_id"]
    # An audit that fails while unpacking: a completed one would need a full ScanCode scan.
    r = await http.post("/api/v1/audits", headers=h, files={"file": ("mine.zip", zip_bytes({"../x": b"x"}))})
    assert r.status_code == 202, r.text
    ids["audit_id"] = r.json()["data"]["id"]
    return ids


async def settle(http: httpx.AsyncClient, who: Account, ids: dict[str, str]) -> None:
    """Wait until the job and the audit have ended, so their final answers are what gets fuzzed."""
    deadline = time.monotonic() + 120
    for path in (f"/api/v1/trapdoor/sonic/jobs/{ids['job_id']}", f"/api/v1/audits/{ids['audit_id']}"):
        while time.monotonic() < deadline:
            status = (await http.get(path, headers=who.headers)).json()["data"]["status"]
            if status in ("completed", "failed", "cancelled"):
                break
            await asyncio.sleep(0.3)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def owned(platform: str) -> AsyncIterator[Owned]:
    async with httpx.AsyncClient(base_url=platform, timeout=60) as http:
        who = await register_and_login(http)
        admin = await login(http, ADMIN_EMAIL, ADMIN_PASSWORD)
        r = await http.put(f"/api/v1/usage/tiers/{who.id}", headers=admin.headers, json={"tier": "enterprise"})
        assert r.status_code == 200, r.text
        ids, spare = await own_objects(http, who), await own_objects(http, who)
        await settle(http, who, ids)
        await settle(http, who, spare)
        yield Owned(account=who, ids=ids, spare=spare)


@pytest.fixture
def owned_schema(openapi_document: dict[str, Any], platform: str, owned: Owned) -> BaseSchema:
    deletes = {
        "DELETE /upload/{file_id}": {"file_id": owned.spare["file_id"]},
        "DELETE /api/v1/tokens/{token_id}": {"token_id": owned.spare["token_id"]},
        "DELETE /api/v1/trapdoor/sonic/jobs/{job_id}": {"job_id": owned.spare["job_id"]},
        "DELETE /api/v1/audits/{audit_id}": {"audit_id": owned.spare["audit_id"]},
    }
    parameters: dict[str, Any] = {**owned.ids, **deletes}
    return schemathesis.openapi.from_dict(
        openapi_document, config=fuzz_config(platform, owned.account.access_token, parameters)
    )


OWNED = schemathesis.pytest.from_fixture("owned_schema")


@OWNED.include(path_regex=r"\{(" + "|".join(IDS) + r")\}").parametrize()
async def test_own_objects(case: ApiCase) -> None:
    await call_and_validate(case)


# --- the admin-only operations, as the admin --------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def admin_account(platform: str) -> Account:
    async with httpx.AsyncClient(base_url=platform, timeout=60) as http:
        return await login(http, ADMIN_EMAIL, ADMIN_PASSWORD)


@pytest.fixture
def admin_schema(openapi_document: dict[str, Any], platform: str, admin_account: Account) -> BaseSchema:
    return schemathesis.openapi.from_dict(openapi_document, config=fuzz_config(platform, admin_account.access_token))


ADMIN = schemathesis.pytest.from_fixture("admin_schema")


@ADMIN.include(path_regex=ADMIN_ONLY_PATHS).parametrize()
async def test_admin_api(case: ApiCase) -> None:
    await call_and_validate(case)


async def test_transcript_downloads_carry_one_charset(platform: str, owned: Owned) -> None:
    """Text transcripts are served as `text/…; charset=utf-8`, the parameter once (Litestar adds it
    to text types, and the handler used to pass it too: `charset=utf-8; charset=utf-8`)."""
    async with httpx.AsyncClient(base_url=platform, timeout=60) as http:
        job = await http.get(f"/api/v1/trapdoor/sonic/jobs/{owned.ids['job_id']}", headers=owned.account.headers)
        assert job.json()["data"]["status"] == "completed", job.text
        for fmt, expected in (("txt", "text/plain"), ("vtt", "text/vtt"), ("srt", "application/x-subrip")):
            r = await http.get(
                f"/api/v1/trapdoor/sonic/jobs/{owned.ids['job_id']}/download?format={fmt}",
                headers=owned.account.headers,
            )
            assert r.status_code == 200
            main, *params = [part.strip() for part in r.headers["content-type"].split(";")]
            assert main == expected
            assert len([p for p in params if p.startswith("charset=")]) <= 1, r.headers["content-type"]
