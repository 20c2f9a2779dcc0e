"""Sonic Codex as a job system: HTTP, WebSocket, NATS work queue, real Whisper model."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import srt
import websockets
import webvtt

from bench.sonic.wer import word_error_rate
from tests.accounts import Account
from tests.sonic.conftest import FOX

BASE = "/api/v1/trapdoor/sonic"


async def submit(client: httpx.AsyncClient, who: Account, path: Path, **fields: str) -> httpx.Response:
    return await client.post(
        f"{BASE}/upload", headers=who.headers, files={"file": (path.name, path.read_bytes())}, data=fields
    )


async def wait_for(
    client: httpx.AsyncClient, who: Account, job_id: str, statuses: set[str], timeout: float = 120
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    job: dict[str, Any] = {}
    while loop.time() < deadline:
        job = (await client.get(f"{BASE}/jobs/{job_id}", headers=who.headers)).json()["data"]
        if job["status"] in statuses:
            return job
        await asyncio.sleep(0.2)
    raise AssertionError(f"job stayed {job.get('status')}")


async def test_transcription_job_end_to_end(
    client: httpx.AsyncClient, user: Account, fox_clips: dict[str, Path]
) -> None:
    r = await submit(client, user, fox_clips["mp3"], word_timestamps="true")
    assert r.status_code == 202, r.text
    queued = r.json()["data"]
    assert queued["status"] == "queued"
    job = await wait_for(client, user, queued["job_id"], {"completed", "failed"})
    assert job["status"] == "completed", job
    assert job["progress"] == 100
    assert job["detected_language"] == "en"
    assert job["word_timestamps"] is True
    assert job["duration"] > 2
    assert job["completed_at"] is not None
    assert set(job["formats"]) == {"txt", "srt", "vtt", "json", "zip"}

    url = f"{BASE}/jobs/{queued['job_id']}/download"
    text = (await client.get(f"{url}?format=txt", headers=user.headers)).text
    assert word_error_rate(FOX, text) < 0.25

    subtitles = list(srt.parse((await client.get(f"{url}?format=srt", headers=user.headers)).text))
    assert subtitles
    assert subtitles[0].start.total_seconds() >= 0
    vtt = webvtt.from_buffer(io.StringIO((await client.get(f"{url}?format=vtt", headers=user.headers)).text))
    assert len(vtt.captions) == len(subtitles)

    document = (await client.get(f"{url}?format=json", headers=user.headers)).json()
    assert document["segments"][0]["words"]
    assert all({"start", "end", "text"} <= set(seg) for seg in document["segments"])

    package = await client.get(f"{url}?format=zip", headers=user.headers)
    assert package.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(package.content)) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
    assert {"manifest.json", "transcript.txt", "transcript.srt", "transcript.vtt", "transcript.json"} <= names
    assert any(name.startswith("original/") for name in names)
    assert manifest["job"]["job_id"] == queued["job_id"]

    bad = await client.get(f"{url}?format=docx", headers=user.headers)
    assert bad.status_code in (400, 422)


async def test_download_is_409_until_completed_and_websocket_streams_progress(
    client: httpx.AsyncClient, user: Account, long_clip: tuple[Path, str], fox_clips: dict[str, Path]
) -> None:
    first = (await submit(client, user, long_clip[0])).json()["data"]
    second = (await submit(client, user, fox_clips["ogg"])).json()["data"]
    early = await client.get(f"{BASE}/jobs/{second['job_id']}/download?format=txt", headers=user.headers)
    assert early.status_code == 409
    assert early.json()["error_code"] == "SONIC_409"

    ws_url = str(client.base_url).replace("http", "ws", 1) + f"{BASE}/ws/{first['job_id']}?token={user.access_token}"
    updates = []
    async with websockets.connect(ws_url) as socket:
        async for message in socket:
            updates.append(json.loads(message))
    assert updates[-1]["status"] == "completed"
    progresses = [u["progress"] for u in updates if u["progress"] is not None]
    assert progresses == sorted(progresses)
    assert any(u["status"] == "processing" for u in updates) or len(updates) >= 1
    await wait_for(client, user, second["job_id"], {"completed"})


async def test_bad_media_and_options_fail_cleanly(
    client: httpx.AsyncClient, user: Account, fox_clips: dict[str, Path], tmp_path: Path
) -> None:
    text = tmp_path / "speech.mp3"
    text.write_text("this is not audio at all")
    r = await submit(client, user, text)
    assert r.status_code == 415
    assert r.json()["error_code"] == "SONIC_415"
    truncated = tmp_path / "cut.mp3"
    data = fox_clips["mp3"].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    assert (await submit(client, user, truncated)).status_code == 415
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    assert (await submit(client, user, empty)).status_code == 400
    assert (await submit(client, user, fox_clips["wav"], model="large-v3")).status_code == 422
    assert (await submit(client, user, fox_clips["wav"], language="fr")).status_code == 422
    assert (await submit(client, user, fox_clips["wav"], vad="maybe")).status_code == 422
    r = await client.post(f"{BASE}/upload", files={"file": ("a.wav", fox_clips["wav"].read_bytes())})
    assert r.status_code == 401
    listed = (await client.get(f"{BASE}/jobs?limit=100", headers=user.headers)).json()["data"]
    assert all(job["filename"] not in {"speech.mp3", "cut.mp3", "empty.wav"} for job in listed["jobs"])


async def test_jobs_are_private_and_listable(
    client: httpx.AsyncClient, user: Account, other_user: Account, fox_clips: dict[str, Path]
) -> None:
    job = (await submit(client, user, fox_clips["flac"])).json()["data"]
    for method, path in (
        ("GET", f"{BASE}/jobs/{job['job_id']}"),
        ("GET", f"{BASE}/jobs/{job['job_id']}/download?format=txt"),
        ("DELETE", f"{BASE}/jobs/{job['job_id']}"),
    ):
        r = await client.request(method, path, headers=other_user.headers)
        assert r.status_code == 404, path
        assert "fox" not in r.text
    theirs = (await client.get(f"{BASE}/jobs", headers=other_user.headers)).json()["data"]["jobs"]
    assert job["job_id"] not in {j["job_id"] for j in theirs}
    ws_url = (
        str(client.base_url).replace("http", "ws", 1) + f"{BASE}/ws/{job['job_id']}?token={other_user.access_token}"
    )
    with pytest.raises(websockets.exceptions.WebSocketException):
        async with websockets.connect(ws_url) as socket:
            await socket.recv()

    await wait_for(client, user, job["job_id"], {"completed"})
    done = (await client.get(f"{BASE}/jobs?status=completed&limit=100", headers=user.headers)).json()["data"]
    assert job["job_id"] in {j["job_id"] for j in done["jobs"]}
    assert all(j["status"] == "completed" for j in done["jobs"])
    assert (await client.get(f"{BASE}/jobs?status=bogus", headers=user.headers)).status_code in (400, 422)
    assert (await client.get(f"{BASE}/jobs?limit=1000", headers=user.headers)).status_code in (400, 422)


async def test_delete_cancels_a_running_job_and_removes_it(
    client: httpx.AsyncClient, user: Account, long_clip: tuple[Path, str]
) -> None:
    job = (await submit(client, user, long_clip[0])).json()["data"]
    await wait_for(client, user, job["job_id"], {"processing", "completed"})
    r = await client.delete(f"{BASE}/jobs/{job['job_id']}", headers=user.headers)
    assert r.status_code == 200
    assert r.json()["data"]["status"] in ("cancelled", "completed")
    assert (await client.get(f"{BASE}/jobs/{job['job_id']}", headers=user.headers)).status_code == 404
    assert (await client.delete(f"{BASE}/jobs/{job['job_id']}", headers=user.headers)).status_code == 404
