"""PostgreSQL access: one asyncpg pool per service, pinned to the service's own schema, and migrations."""

from libs.database.migrations import Migration, MigrationError, apply_migrations, load_migrations
from libs.database.pool import Database, DatabaseUnavailable

__all__ = [
    "Database",
    "DatabaseUnavailable",
    "Migration",
    "MigrationError",
    "apply_migrations",
    "load_migrations",
]
