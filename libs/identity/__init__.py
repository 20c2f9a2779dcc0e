"""Request authentication for every service: JWTs verified locally against auth's JWKS, API tokens via NATS."""

from libs.identity.authenticator import AuthenticationFailed, Authenticator
from libs.identity.litestar import AuthMiddleware, current_principal, requires_admin
from libs.identity.principal import Principal

__all__ = [
    "AuthMiddleware",
    "AuthenticationFailed",
    "Authenticator",
    "Principal",
    "current_principal",
    "requires_admin",
]
