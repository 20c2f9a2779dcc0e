"""Login brute-force protection shared by all replicas (state lives in PostgreSQL).

Failures are counted per account (`acct:<email>`) and per client address (`ip:<addr>`) in a
sliding window. Past `slowdown_after` failures each answer is delayed; past the lock threshold
the key is locked for `lockout_seconds`, and every login on it, correct password included, gets
429 with `Retry-After` until the lock ends.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime

from libs.database import Database
from services.auth.settings import AuthSettings


class LoginLocked(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins, retry in {retry_after}s")
        self.retry_after = retry_after


class LoginThrottle:
    def __init__(self, db: Database, settings: AuthSettings) -> None:
        self._db = db
        self._settings = settings

    @staticmethod
    def keys(email: str, client: str) -> tuple[str, str]:
        return f"acct:{email.strip().lower()}", f"ip:{client}"

    async def check(self, email: str, client: str) -> None:
        """Raise `LoginLocked` if the account or the client is locked out."""
        rows = await self._db.fetch(
            "SELECT locked_until FROM login_failures WHERE key = ANY($1::text[]) AND locked_until > now()",
            list(self.keys(email, client)),
        )
        if rows:
            until = max(r["locked_until"] for r in rows)
            raise LoginLocked(max(1, math.ceil((until - datetime.now(UTC)).total_seconds())))

    async def failed(self, email: str, client: str) -> None:
        """Count a failure, lock when over the limit, and slow the answer down."""
        s = self._settings
        account, address = self.keys(email, client)
        worst = 0
        for key, limit in ((account, s.lock_after), (address, s.client_lock_after)):
            count = await self._db.fetchval(
                "INSERT INTO login_failures AS f (key, failures, window_start) VALUES ($1, 1, now())"
                " ON CONFLICT (key) DO UPDATE SET"
                "  failures = CASE WHEN f.window_start < now() - make_interval(secs => $2) THEN 1"
                "                  ELSE f.failures + 1 END,"
                "  window_start = CASE WHEN f.window_start < now() - make_interval(secs => $2) THEN now()"
                "                  ELSE f.window_start END,"
                "  locked_until = CASE WHEN f.failures + 1 >= $3"
                "                  AND f.window_start >= now() - make_interval(secs => $2)"
                "                  THEN now() + make_interval(secs => $4) ELSE f.locked_until END"
                " RETURNING failures",
                key,
                float(s.failure_window_seconds),
                limit,
                float(s.lockout_seconds),
            )
            worst = max(worst, int(count) if key == account else 0)
        if worst > s.slowdown_after:
            await asyncio.sleep(min(0.25 * 2 ** (worst - s.slowdown_after - 1), 2.0))

    async def succeeded(self, email: str) -> None:
        account, _ = self.keys(email, "")
        await self._db.execute("DELETE FROM login_failures WHERE key = $1 AND locked_until IS NULL", account)
