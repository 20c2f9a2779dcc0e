"""Usage statistics built from the platform's events, and the monthly audit quota by tier.

Each consumed event adds rows keyed by (event id, kind), so a redelivered event counts once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from libs.contracts import audit, sonic, upload
from libs.database import Database
from libs.events import Delivery
from libs.http import ApiError
from libs.identity import Principal
from services.audit.schemas import UsageCounts, UsageDay, UsageHistory, UsageStats
from services.audit.settings import AuditSettings
from services.audit.store import AuditStore

KINDS = ("audits_run", "files_scanned", "files_uploaded", "bytes_uploaded", "audio_minutes")


def _month_bounds(today: date) -> tuple[date, date]:
    start = today.replace(day=1)
    next_month = (start + timedelta(days=32)).replace(day=1)
    return start, next_month - timedelta(days=1)


def _counts(values: dict[str, float]) -> UsageCounts:
    return UsageCounts(
        audits_run=int(values.get("audits_run", 0)),
        files_scanned=int(values.get("files_scanned", 0)),
        files_uploaded=int(values.get("files_uploaded", 0)),
        bytes_uploaded=int(values.get("bytes_uploaded", 0)),
        audio_minutes=round(values.get("audio_minutes", 0.0), 2),
    )


class UsageService:
    def __init__(self, db: Database, audits: AuditStore, settings: AuditSettings) -> None:
        self.db = db
        self.audits = audits
        self.settings = settings

    async def tier_of(self, user_id: str) -> str:
        value = await self.db.fetchval("SELECT tier FROM user_tiers WHERE user_id = $1", user_id)
        return str(value) if value else self.settings.default_tier

    async def limit_for(self, principal: Principal) -> tuple[str, int | None]:
        tier = "admin" if principal.is_admin else await self.tier_of(principal.user_id)
        limit = None if principal.is_admin else self.settings.limits.get(tier, 0)
        return tier, (limit or None)

    async def enforce_quota(self, principal: Principal) -> None:
        tier, limit = await self.limit_for(principal)
        if limit is None:
            return
        used = await self.audits.audits_this_month(principal.user_id)
        if used >= limit:
            raise ApiError(
                429,
                f"Monthly audit limit reached: {used} of {limit} audits on the {tier} tier; the limit resets on the first of next month",
                error_code="AUDIT_QUOTA",
            )

    async def set_tier(self, user_id: str, tier: str) -> None:
        if tier not in self.settings.limits:
            raise ApiError(
                422, f"Unknown tier {tier!r}; tiers: {', '.join(sorted(self.settings.limits))}", error_code="AUDIT_TIER"
            )
        await self.db.execute(
            "INSERT INTO user_tiers (user_id, tier) VALUES ($1, $2)"
            " ON CONFLICT (user_id) DO UPDATE SET tier = excluded.tier, updated_at = now()",
            user_id,
            tier,
        )

    async def record(self, event_id: Any, user_id: str, occurred_at: datetime, quantities: dict[str, float]) -> None:
        async with self.db.transaction() as conn:
            for kind, quantity in quantities.items():
                await conn.execute(
                    "INSERT INTO usage_events (event_id, user_id, kind, quantity, occurred_at)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    event_id,
                    user_id,
                    kind,
                    quantity,
                    occurred_at,
                )

    async def _totals(self, user_id: str, since: datetime | None) -> dict[str, float]:
        rows = await self.db.fetch(
            "SELECT kind, sum(quantity) AS total FROM usage_events"
            " WHERE user_id = $1 AND ($2::timestamptz IS NULL OR occurred_at >= $2) GROUP BY kind",
            user_id,
            since,
        )
        return {r["kind"]: float(r["total"]) for r in rows}

    async def stats(self, principal: Principal, user_id: str) -> UsageStats:
        today = datetime.now(UTC).date()
        start, end = _month_bounds(today)
        month = await self._totals(user_id, datetime(start.year, start.month, 1, tzinfo=UTC))
        overall = await self._totals(user_id, None)
        subject = principal if user_id == principal.user_id else Principal(user_id=user_id, role="user")
        tier, limit = await self.limit_for(subject)
        requested = await self.audits.audits_this_month(user_id)
        return UsageStats(
            user_id=user_id,
            tier=tier,
            period_start=start,
            period_end=end,
            this_month=_counts(month),
            all_time=_counts(overall),
            monthly_audit_limit=limit,
            audits_remaining=None if limit is None else max(limit - requested, 0),
        )

    async def history(self, user_id: str, days: int) -> UsageHistory:
        today = datetime.now(UTC).date()
        first = today - timedelta(days=days - 1)
        rows = await self.db.fetch(
            "SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, kind, sum(quantity) AS total FROM usage_events"
            " WHERE user_id = $1 AND occurred_at >= $2 GROUP BY 1, 2",
            user_id,
            datetime(first.year, first.month, first.day, tzinfo=UTC),
        )
        by_day: dict[date, dict[str, float]] = {}
        for r in rows:
            by_day.setdefault(r["day"], {})[r["kind"]] = float(r["total"])
        history = []
        for offset in range(days):
            day = first + timedelta(days=offset)
            counts = _counts(by_day.get(day, {}))
            history.append(UsageDay(date=day, **{k: getattr(counts, k) for k in KINDS}))
        return UsageHistory(user_id=user_id, days=days, history=history)

    def handlers(self) -> dict[str, Callable[[Delivery[Any]], Awaitable[None]]]:
        """Consumers' handlers, by the event they count."""

        async def uploaded(delivery: Delivery[upload.FileStored]) -> None:
            e = delivery.event
            await self.record(
                e.id, e.data.owner_id, e.occurred_at, {"files_uploaded": 1, "bytes_uploaded": e.data.size}
            )

        async def transcribed(delivery: Delivery[sonic.JobFinished]) -> None:
            e = delivery.event
            if e.data.status == "completed":
                await self.record(e.id, e.data.owner_id, e.occurred_at, {"audio_minutes": e.data.audio_seconds / 60})

        async def audited(delivery: Delivery[audit.AuditFinished]) -> None:
            e = delivery.event
            if e.data.status == "completed":
                await self.record(
                    e.id, e.data.owner_id, e.occurred_at, {"audits_run": 1, "files_scanned": e.data.files_scanned}
                )

        return {upload.FILE_STORED: uploaded, sonic.JOB_COMPLETED: transcribed, audit.AUDIT_COMPLETED: audited}
