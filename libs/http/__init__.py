"""The HTTP side every service shares: envelopes, errors, health, request ids, and the app factory."""

from libs.http.app import create_app
from libs.http.envelope import Page, Success, ok
from libs.http.errors import ApiError
from libs.http.health import ReadinessChecks

__all__ = ["ApiError", "Page", "ReadinessChecks", "Success", "create_app", "ok"]
