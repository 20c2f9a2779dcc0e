"""ForgeTrace audits through the HTTP API, the work queue and the audit worker; usage statistics."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.accounts import Account, register_and_login
from tests.audit.fixtures import AWS_ACCESS_KEY, AWS_SECRET_KEY, zip_bytes

BASE = "/api/v1/audits"


async def wait_for(client: httpx.AsyncClient, who: Account, audit_id: str, timeout: float = 240) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    audit: dict[str, Any] = {}
    while loop.time() < deadline:
        audit = (await client.get(f"{BASE}/{audit_id}", headers=who.headers)).json()["data"]
        if audit["status"] in ("completed", "failed", "cancelled"):
            return audit
        await asyncio.sleep(0.5)
    raise AssertionError(f"audit stayed {audit.get('status')}")


async def test_repository_audit_end_to_end(
    client: httpx.AsyncClient, user: Account, other_user: Account, bare_repo: Path
) -> None:
    r = await client.post(BASE, headers=user.headers, json={"repository": str(bare_repo)})
    assert r.status_code == 202, r.text
    queued = r.json()["data"]
    assert queued["status"] == "queued"
    assert queued["progress"] == 0

    ws_url = str(client.base_url).replace("http", "ws", 1) + f"{BASE}/{queued['id']}/events?token={user.access_token}"
    updates: list[dict[str, Any]] = []
    async with websockets.connect(ws_url) as socket:
        async for message in socket:
            updates.append(json.loads(message))
    assert updates[-1]["status"] == "completed"
    stages = [u["stage"] for u in updates]
    assert "completed" in stages
    progress = [u["progress"] for u in updates if u["progress"] is not None]
    assert progress == sorted(progress)

    audit = await wait_for(client, user, queued["id"])
    assert audit["status"] == "completed", audit
    summary = audit["summary"]
    assert summary["files_scanned"] >= 6
    assert summary["copyleft_licenses"] >= 1
    assert summary["live_secrets"] >= 1
    assert summary["verdict"] == "block"
    assert summary["authors"] == 2
    assert audit["files_scanned"] == summary["files_scanned"]
    assert set(audit["formats"]) == {"json", "html", "pdf", "sbom"}

    url = f"{BASE}/{queued['id']}/report"
    report = (await client.get(f"{url}?format=json", headers=user.headers)).json()
    licenses = json.dumps(report["licenses"])
    assert "MIT" in licenses
    assert "GPL-3.0" in licenses
    assert {a["name"] for a in report["authorship"]["authors"]} >= {"Alice Martin", "Bob Okafor"}
    purls = {d["purl"] for d in report["dependencies"]}
    assert any(p.startswith("pkg:pypi/") for p in purls)
    assert any(p.startswith("pkg:npm/") for p in purls)
    assert any(p.startswith(("pkg:golang/", "pkg:cargo/")) for p in purls)
    for fmt in ("json", "html", "sbom"):
        body = (await client.get(f"{url}?format={fmt}", headers=user.headers)).text
        assert AWS_SECRET_KEY not in body
        assert AWS_ACCESS_KEY not in body
    pdf = await client.get(f"{url}?format=pdf", headers=user.headers)
    assert pdf.content.startswith(b"%PDF")
    sbom = (await client.get(f"{url}?format=sbom", headers=user.headers)).text
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(sbom) is None
    assert (await client.get(f"{url}?format=docx", headers=user.headers)).status_code in (400, 422)

    # Another user learns nothing.
    for method, path in (
        ("GET", f"{BASE}/{queued['id']}"),
        ("GET", f"{url}?format=json"),
        ("DELETE", f"{BASE}/{queued['id']}"),
    ):
        r = await client.request(method, path, headers=other_user.headers)
        assert r.status_code == 404
    theirs = (await client.get(BASE, headers=other_user.headers)).json()["data"]["audits"]
    assert queued["id"] not in {a["id"] for a in theirs}

    listed = (await client.get(f"{BASE}?status=completed&repository=fixture-app", headers=user.headers)).json()["data"]
    assert queued["id"] in {a["id"] for a in listed["audits"]}
    assert (await client.get(f"{BASE}?status=bogus", headers=user.headers)).status_code in (400, 422)

    deleted = await client.delete(f"{BASE}/{queued['id']}", headers=user.headers)
    assert deleted.status_code == 200
    assert deleted.json()["data"]["reports_removed"] == 4
    assert (await client.get(f"{url}?format=json", headers=user.headers)).status_code == 404


async def test_report_is_409_until_completed(client: httpx.AsyncClient, user: Account, bare_repo: Path) -> None:
    first = (await client.post(BASE, headers=user.headers, json={"repository": str(bare_repo)})).json()["data"]
    second = (await client.post(BASE, headers=user.headers, json={"repository": str(bare_repo)})).json()["data"]
    r = await client.get(f"{BASE}/{second['id']}/report?format=json", headers=user.headers)
    assert r.status_code == 409
    assert r.json()["error_code"] == "AUDIT_409"
    # Cancelling a queued audit.
    cancelled = await client.delete(f"{BASE}/{second['id']}", headers=user.headers)
    assert cancelled.json()["data"]["status"] == "cancelled"
    await wait_for(client, user, first["id"])


@pytest.mark.parametrize(
    "repository",
    [
        "file:///etc",
        "ext::sh -c touch% /tmp/pwned",
        "ssh://git@github.com/a/b",
        "git@github.com:a/b.git",
        "http://github.com/a/b",
        "https://user:secret@github.com/a/b",
        "https://127.0.0.1/a/b",
        "https://10.0.0.1/a/b",
        "https://[::1]/a/b",
        "https://169.254.169.254/latest/meta-data",
        "-uhttps://github.com/a/b",
        "/etc/passwd",
        "https://localhost/a/b",
    ],
)
async def test_hostile_repository_urls_are_refused(client: httpx.AsyncClient, user: Account, repository: str) -> None:
    r = await client.post(BASE, headers=user.headers, json={"repository": repository})
    assert r.status_code == 422, r.text
    assert r.json()["success"] is False
    assert "secret" not in r.text


async def test_bad_bodies(client: httpx.AsyncClient, user: Account) -> None:
    assert (await client.post(BASE, headers=user.headers, json={"repo": "x"})).status_code == 422
    assert (await client.post(BASE, headers=user.headers, json={"repository": 5})).status_code == 422
    assert (await client.post(BASE, headers=user.headers, content=b"{nope")).status_code == 400
    big = await client.post(BASE, headers=user.headers, json={"repository": "https://github.com/" + "a" * 100_000})
    assert big.status_code in (413, 422)
    r = await client.post(
        BASE, headers=user.headers, json={"repository": "https://github.com/a/b", "branch": "--upload-pack=x"}
    )
    assert r.status_code == 422
    assert (await client.post(BASE, json={"repository": "https://github.com/a/b"})).status_code == 401


async def test_archive_upload_audits_and_hostile_archives_fail(
    client: httpx.AsyncClient, user: Account, fixture_repo: Path
) -> None:
    entries = {
        f"project/{path.relative_to(fixture_repo)}": path.read_bytes()
        for path in fixture_repo.rglob("*")
        if path.is_file() and ".git" not in path.parts
    }
    r = await client.post(BASE, headers=user.headers, files={"file": ("project.zip", zip_bytes(entries))})
    assert r.status_code == 202, r.text
    audit = await wait_for(client, user, r.json()["data"]["id"])
    assert audit["status"] == "completed", audit["error"]
    assert audit["source_kind"] == "archive"
    assert audit["summary"]["live_secrets"] >= 1

    slip = zip_bytes({"../../evil.txt": b"owned", "ok.txt": b"fine"})
    r = await client.post(BASE, headers=user.headers, files={"file": ("slip.zip", slip)})
    assert r.status_code == 202
    failed = await wait_for(client, user, r.json()["data"]["id"])
    assert failed["status"] == "failed"
    assert failed["error"]

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.txt", b"\0" * (300 * 1024 * 1024))
    r = await client.post(BASE, headers=user.headers, files={"file": ("bomb.zip", out.getvalue())})
    bomb = await wait_for(client, user, r.json()["data"]["id"])
    assert bomb["status"] == "failed"

    r = await client.post(BASE, headers=user.headers, files={"file": ("notes.txt", b"not an archive")})
    assert r.status_code == 415


async def test_nonexistent_repository_fails_cleanly(
    client: httpx.AsyncClient, user: Account, tmp_path_factory: pytest.TempPathFactory
) -> None:
    missing = tmp_path_factory.getbasetemp() / f"missing-{uuid.uuid4().hex}"
    missing.mkdir()
    (missing / "HEAD").write_text("ref: refs/heads/main\n")  # looks like a bare repository, is not one
    r = await client.post(BASE, headers=user.headers, json={"repository": str(missing)})
    assert r.status_code == 202
    audit = await wait_for(client, user, r.json()["data"]["id"])
    assert audit["status"] == "failed"
    assert audit["error"]
    assert str(tmp_path_factory.getbasetemp()) not in audit["error"]


async def test_usage_stats_history_and_quota(client: httpx.AsyncClient, admin: Account, bare_repo: Path) -> None:
    who = await register_and_login(client)
    upload = await client.post(
        "/upload/", headers=who.headers, files={"file": ("n.txt", b"usage counted " + uuid.uuid4().hex.encode())}
    )
    assert upload.status_code == 201
    audit = (await client.post(BASE, headers=who.headers, json={"repository": str(bare_repo)})).json()["data"]
    await wait_for(client, who, audit["id"])
    stats: dict[str, Any] = {}
    for _ in range(50):
        stats = (await client.get("/api/v1/usage/stats", headers=who.headers)).json()["data"]
        if stats["this_month"]["audits_run"] and stats["this_month"]["files_uploaded"]:
            break
        await asyncio.sleep(0.2)
    assert stats["this_month"]["audits_run"] == 1
    assert stats["this_month"]["files_scanned"] >= 6
    assert stats["this_month"]["files_uploaded"] == 1
    assert stats["this_month"]["bytes_uploaded"] == upload.json()["data"]["size"]
    assert stats["tier"] == "free"
    assert stats["monthly_audit_limit"] == 5
    assert stats["audits_remaining"] == 4

    history = (await client.get("/api/v1/usage/history?days=7", headers=who.headers)).json()["data"]
    assert len(history["history"]) == 7
    assert history["history"][-1]["audits_run"] == 1
    assert (await client.get("/api/v1/usage/history?days=0", headers=who.headers)).status_code in (400, 422)

    # Quota: four more audits are allowed this month, the next one is refused with 429.
    for _ in range(4):
        r = await client.post(BASE, headers=who.headers, json={"repository": str(bare_repo)})
        assert r.status_code == 202
        await client.delete(f"{BASE}/{r.json()['data']['id']}", headers=who.headers)
    refused = await client.post(BASE, headers=who.headers, json={"repository": str(bare_repo)})
    assert refused.status_code == 429
    assert "limit" in refused.json()["error"].lower()

    # Admins see anyone's usage and can change tiers; users cannot.
    other = await client.get(f"/api/v1/usage/stats?user_id={admin.id}", headers=who.headers)
    assert other.status_code == 403
    seen = await client.get(f"/api/v1/usage/stats?user_id={who.id}", headers=admin.headers)
    assert seen.json()["data"]["user_id"] == who.id
    assert (
        await client.put(f"/api/v1/usage/tiers/{who.id}", headers=who.headers, json={"tier": "pro"})
    ).status_code == 403
    assert (
        await client.put(f"/api/v1/usage/tiers/{who.id}", headers=admin.headers, json={"tier": "gold"})
    ).status_code == 422
    assert (
        await client.put(f"/api/v1/usage/tiers/{who.id}", headers=admin.headers, json={"tier": "pro"})
    ).status_code == 200
    allowed = await client.post(BASE, headers=who.headers, json={"repository": str(bare_repo)})
    assert allowed.status_code == 202
    await client.delete(f"{BASE}/{allowed.json()['data']['id']}", headers=who.headers)
