"""How the host runs the auth service: schema, stream, routes, request/reply responders, bootstrap."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from pathlib import Path

import click

from forge.host import migrations_for
from forge.spec import ServiceContext, ServiceRuntime, ServiceSpec
from libs.config import PlatformSettings
from libs.contracts import auth as contract
from libs.database import Database, apply_migrations
from libs.events import RpcServer
from libs.logging import get_logger
from libs.settings import load_settings
from services.auth.accounts import Accounts
from services.auth.api import routes
from services.auth.keys import SigningKeys
from services.auth.passwords import Passwords
from services.auth.settings import AuthSettings, BootstrapSettings
from services.auth.store import AuthStore
from services.auth.throttle import LoginThrottle

log = get_logger(__name__)


async def _pepper(db: Database, configured: str) -> bytes:
    if configured:
        return configured.encode()
    await db.execute(
        "INSERT INTO secrets (name, value) VALUES ('api_token_pepper', $1) ON CONFLICT (name) DO NOTHING",
        secrets.token_urlsafe(48),
    )
    value = await db.fetchval("SELECT value FROM secrets WHERE name = 'api_token_pepper'")
    return str(value).encode()


async def open_accounts(db: Database, platform: PlatformSettings) -> Accounts:
    settings = load_settings(AuthSettings, prefix="AUTH_")
    keys = SigningKeys(
        db,
        algorithm=settings.signing_algorithm,
        max_token_lifetime=timedelta(minutes=settings.access_token_minutes),
    )
    await keys.load()
    return Accounts(
        AuthStore(db),
        keys,
        Passwords(settings),
        LoginThrottle(db, settings),
        settings,
        issuer=platform.jwt_issuer,
        audience=platform.jwt_audience,
        pepper=await _pepper(db, settings.token_pepper),
    )


async def build(ctx: ServiceContext) -> ServiceRuntime:
    accounts = await open_accounts(ctx.db, ctx.settings)
    bootstrap = load_settings(BootstrapSettings)
    if bootstrap.bootstrap_admin_email and bootstrap.bootstrap_admin_password:
        admin = await accounts.ensure_admin(bootstrap.bootstrap_admin_email, bootstrap.bootstrap_admin_password)
        log.info("bootstrap admin present", user_id=admin.id)

    async def answer_jwks(_: contract.JwksRequest) -> contract.Jwks:
        return contract.Jwks(keys=await accounts.keys.public_jwks())

    async def answer_introspect(req: contract.IntrospectRequest) -> contract.TokenPrincipal:
        return await accounts.introspect(req.token)

    return ServiceRuntime(
        state=accounts,
        components=[
            RpcServer(ctx.nats, contract.RPC_JWKS, contract.JwksRequest, answer_jwks),
            RpcServer(ctx.nats, contract.RPC_INTROSPECT, contract.IntrospectRequest, answer_introspect),
        ],
    )


@click.group("auth")
def auth_cli() -> None:
    """Auth service administration."""


@auth_cli.command("create-admin")
@click.option("--email", required=True)
@click.password_option("--password", help="at least 10 characters (prompted when omitted)")
def create_admin(email: str, password: str) -> None:
    """Create an admin account, or promote an existing account to admin."""
    # Imported here: forge.cli imports every service module to register their commands.
    from forge.cli import _settings

    settings = _settings()

    async def run() -> None:
        await apply_migrations(settings.database_url, "auth", migrations_for(SERVICE))
        db = Database(settings.database_url, "auth", min_size=1, max_size=2)
        await db.connect()
        try:
            accounts = await open_accounts(db, settings)
            user = await accounts.ensure_admin(email, password)
            click.echo(f"admin {user.email} ({user.id})")
        finally:
            await db.close()

    asyncio.run(run())


SERVICE = ServiceSpec(
    name="auth",
    description="users, JWT access/refresh tokens, API tokens, JWKS",
    build=build,
    routes=routes,
    migrations=Path(__file__).parent / "migrations",
    streams=(contract.STREAM,),
    cli=auth_cli,
)
