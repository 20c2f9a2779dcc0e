"""Auth: what authenticating a request costs, and what a login costs.

Run as ``python -m bench.auth.bench_auth``. One run starts NATS, a fresh PostgreSQL database
and ``forge serve --services auth`` as a subprocess, then, against that one process:

- req/s (and server CPU per request) of ``GET /health/live`` (public, constant answer),
  ``GET /api/v1/auth/me`` with a JWT access token and ``GET /api/v1/auth/me`` with an API token
  (``ftk_…``, made with ``POST /api/v1/tokens``): ``--rounds`` rounds, the three interleaved
  (order rotated each round), medians reported;
- ``POST /api/v1/auth/login`` latency over ``--logins`` distinct users (one login each, so the
  brute-force throttle never counts anything), and, for reference, a bare argon2id
  ``PasswordHasher`` hash and verify in this process with the auth service's default parameters.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass

import httpx
from argon2 import PasswordHasher, Type

from bench.common import (
    LoadResult,
    create_api_token,
    load,
    login,
    num,
    percentile,
    platform,
    record,
    register,
    register_and_login,
    run,
    table,
)
from services.auth.settings import AuthSettings

BENCH = "auth"
LIVE, ME = "/health/live", "/api/v1/auth/me"


@dataclass
class Target:
    key: str
    label: str
    path: str
    headers: dict[str, str]


@dataclass
class Summary:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float
    requests: int
    errors: int


def summarize(runs: list[LoadResult]) -> Summary:
    return Summary(
        rps=statistics.median(r.rps for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        cpu_us=statistics.median(r.server_cpu_us_per_request for r in runs),
        requests=sum(r.requests for r in runs),
        errors=sum(r.errors for r in runs),
    )


class BareArgon2:
    """argon2id with the auth service's default parameters, timed in this process."""

    def __init__(self) -> None:
        settings = AuthSettings()
        self.hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        self.stored = self.hasher.hash("correct-horse-battery")
        self.hashes: list[float] = []
        self.verifies: list[float] = []

    def time_hash(self) -> None:
        started = time.perf_counter()
        self.hasher.hash("correct-horse-battery")
        self.hashes.append(time.perf_counter() - started)

    def time_verify(self) -> None:
        started = time.perf_counter()
        self.hasher.verify(self.stored, "correct-horse-battery")
        self.verifies.append(time.perf_counter() - started)


async def bench(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    async with platform(["auth"], storage="fs") as p:
        startup = time.perf_counter() - began
        async with httpx.AsyncClient(base_url=p.base_url, timeout=60) as client:
            account = await register_and_login(client)
            api_token = await create_api_token(client, account)
            targets = [
                Target("live", f"{LIVE} (public)", LIVE, {}),
                Target("jwt", f"{ME} + JWT", ME, account.headers),
                Target("token", f"{ME} + API token", ME, {"Authorization": f"Bearer {api_token}"}),
            ]
            # Warm-up: first requests pay lazy imports, the JWKS fetch, the first introspection.
            for target in targets:
                await load(p.base_url, target.path, headers=target.headers, concurrency=args.concurrency, duration=0.5)

            runs: dict[str, list[LoadResult]] = {t.key: [] for t in targets}
            for round_no in range(args.rounds):
                order = targets[round_no % 3 :] + targets[: round_no % 3]
                for target in order:
                    result = await load(
                        p.base_url,
                        target.path,
                        headers=target.headers,
                        concurrency=args.concurrency,
                        duration=args.seconds,
                        server_pid=p.pid,
                    )
                    runs[target.key].append(result)

            # Login latency: distinct users, one login each, no failed attempt anywhere.
            users: list[tuple[str, str]] = []
            for _ in range(args.logins):
                users.append(await register(client))
            # Each login is followed by a bare verify here (and the first few by a bare hash), so both
            # sides see the same machine load; the server is idle while this process hashes.
            bare = BareArgon2()
            login_latencies: list[float] = []
            for index, (email, password) in enumerate(users):
                started = time.perf_counter()
                await login(client, email, password)
                login_latencies.append(time.perf_counter() - started)
                bare.time_verify()
                if index < args.argon2_hashes:
                    bare.time_hash()
    bare_hash, bare_verify = statistics.median(bare.hashes), statistics.median(bare.verifies)

    s = {key: summarize(results) for key, results in runs.items()}
    live, jwt, token = s["live"], s["jwt"], s["token"]
    login_p50 = percentile(login_latencies, 50)
    login_p99 = percentile(login_latencies, 99)

    print(
        f"\nAuth benchmark: forge serve --services auth (ready in {startup:.1f} s), {args.concurrency} connections, "
        f"{args.rounds} rounds x {args.seconds:.0f} s per route, interleaved; medians of the rounds"
    )
    rows: list[list[object]] = [
        [
            t.label,
            num(s[t.key].rps, 0),
            num(s[t.key].p50_ms),
            num(s[t.key].p99_ms),
            num(s[t.key].cpu_us, 0),
            f"{s[t.key].requests} / {s[t.key].errors}",
        ]
        for t in targets
    ]
    print(table(["route", "req/s", "p50 ms", "p99 ms", "server CPU us/req", "requests / errors"], rows))
    print()
    ratio_rows: list[list[object]] = [
        ["(a) JWT /me / live", num(jwt.rps / live.rps, 3), num(jwt.cpu_us / live.cpu_us, 2)],
        ["(b) API-token /me / live", num(token.rps / live.rps, 3), num(token.cpu_us / live.cpu_us, 2)],
        ["(c) JWT /me / API-token /me", num(jwt.rps / token.rps, 3), num(jwt.cpu_us / token.cpu_us, 2)],
    ]
    print(table(["ratio", "req/s ratio", "server CPU/req ratio"], ratio_rows))
    print()
    login_rows: list[list[object]] = [
        [f"POST /api/v1/auth/login ({len(login_latencies)} users)", num(login_p50 * 1000, 1), num(login_p99 * 1000, 1)],
        [f"bare argon2id verify (in-process, {len(bare.verifies)}x)", num(bare_verify * 1000, 1), ""],
        [f"bare argon2id hash (in-process, {len(bare.hashes)}x)", num(bare_hash * 1000, 1), ""],
        ["bare hash + verify", num((bare_hash + bare_verify) * 1000, 1), ""],
    ]
    print(table(["login", "p50 / median ms", "p99 ms"], login_rows))
    settings = AuthSettings()
    print(
        f"\nargon2id t={settings.argon2_time_cost} m={settings.argon2_memory_kib} KiB p={settings.argon2_parallelism}; "
        f"login p50 / bare verify = {login_p50 / bare_verify:.2f} (a login = throttle check, user look-up,\n"
        "argon2 verify in a worker thread, throttle reset, last-login update, two EdDSA signatures, refresh-token insert)"
    )
    print(
        "\nwhat each ratio includes:\n"
        "- /health/live is a sync handler returning a constant: HTTP parsing, routing, the request-id and metrics\n"
        "  middleware, JSON encoding. The auth middleware skips it (public route).\n"
        "- (a) JWT /me adds: bearer parsing, JWT decode + EdDSA signature check + claim checks (key cached from JWKS),\n"
        "  the principal dependency, AND the handler's own work: one PostgreSQL query (user by id, pool acquire/release)\n"
        "  and encoding a bigger body. So (a) is 'authenticated route' cost, not auth alone.\n"
        "- (b) API-token /me adds the same handler work, but the token check is the authenticator's cache\n"
        f"  (SHA-256 of the token + dict look-up); a NATS introspection to auth (HMAC + DB look-up) only once per\n"
        f"  API_TOKEN_CACHE_SECONDS (default 3 s) per token, i.e. ~{args.seconds / 3:.0f} per {args.seconds:.0f} s run.\n"
        "- (c) JWT /me / API-token /me: same route, same query, so the difference is JWT verification versus a cached\n"
        "  API-token look-up: < 1 in req/s (and > 1 in CPU) means verifying a JWT costs more than the cache hit.\n"
        "- req/s of /health/live is usually bounded by the httpx client (it shares the 2 CPUs with the server);\n"
        "  server CPU per request is measured on the server process alone and does not depend on the client.\n"
        f"- server CPU per request: JWT /me - API-token /me = {jwt.cpu_us - token.cpu_us:.0f} us;"
        f" API-token /me - live = {token.cpu_us - live.cpu_us:.0f} us."
    )

    record(BENCH, "GET /health/live throughput", round(live.rps, 1), unit="req/s")
    record(
        BENCH,
        "(a) JWT /me vs /health/live",
        round(jwt.rps, 1),
        unit="req/s",
        baseline=round(live.rps, 1),
        ratio=round(jwt.rps / live.rps, 3),
    )
    record(
        BENCH,
        "(b) API-token /me vs /health/live",
        round(token.rps, 1),
        unit="req/s",
        baseline=round(live.rps, 1),
        ratio=round(token.rps / live.rps, 3),
    )
    record(
        BENCH,
        "(c) JWT /me vs API-token /me",
        round(jwt.rps, 1),
        unit="req/s",
        baseline=round(token.rps, 1),
        ratio=round(jwt.rps / token.rps, 3),
    )
    record(
        BENCH,
        "server CPU/req JWT /me vs live",
        round(jwt.cpu_us),
        unit="us",
        baseline=round(live.cpu_us),
        ratio=round(jwt.cpu_us / live.cpu_us, 2),
    )
    record(
        BENCH,
        "server CPU/req API-token /me vs live",
        round(token.cpu_us),
        unit="us",
        baseline=round(live.cpu_us),
        ratio=round(token.cpu_us / live.cpu_us, 2),
    )
    record(
        BENCH,
        "login p50 vs bare argon2 verify",
        round(login_p50 * 1000, 1),
        unit="ms",
        baseline=round(bare_verify * 1000, 1),
        ratio=round(login_p50 / bare_verify, 2),
    )
    record(BENCH, "login p99", round(login_p99 * 1000, 1), unit="ms")
    record(BENCH, "bare argon2 hash + verify", round((bare_hash + bare_verify) * 1000, 1), unit="ms")
    errors = live.errors + jwt.errors + token.errors
    if errors:
        print(f"\n{errors} requests failed", file=sys.stderr)
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each load run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the three routes")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections of the load generator")
    parser.add_argument("--logins", type=int, default=30, help="distinct users to log in once each")
    parser.add_argument("--argon2-hashes", type=int, default=5, help="bare argon2 hashes to time (median)")
    parser.add_argument("--timeout", type=float, default=115.0, help="give up (and clean up) after this many seconds")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.logins < 2 or args.seconds <= 0:
        parser.error("--rounds >= 1, --logins >= 2 and --seconds > 0 please")

    async def go() -> int:
        return await asyncio.wait_for(bench(args), timeout=args.timeout)

    return run(go)


if __name__ == "__main__":
    sys.exit(main())
