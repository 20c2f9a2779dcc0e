"""The ghost service's running state: settings, limits, and a bound on concurrent CPU-heavy work."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from libs.database import Database
from services.ghost.limits import Limits
from services.ghost.settings import GhostSettings


@dataclass
class Ghost:
    settings: GhostSettings
    limits: Limits
    db: Database
    # Extraction and shredding run in threads; this keeps a burst of requests from queueing
    # unbounded work behind the thread pool (and its memory) on a small machine.
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
