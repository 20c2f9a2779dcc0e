from __future__ import annotations

from typing import Literal

import msgspec
import pytest

from libs.config import PlatformSettings
from libs.settings import SettingsError, load_settings


class Example(msgspec.Struct, frozen=True):
    name: str
    size: int = 10
    ratio: float = 0.5
    enabled: bool = False
    tags: frozenset[str] = frozenset()
    mode: Literal["a", "b"] = "a"


def test_parses_types_from_environment() -> None:
    env = {"APP_NAME": "x", "APP_SIZE": "42", "APP_RATIO": "1.5", "APP_ENABLED": "yes", "APP_TAGS": "pdf, png,,jpg"}
    settings = load_settings(Example, prefix="APP_", env=env)
    assert settings == Example(name="x", size=42, ratio=1.5, enabled=True, tags=frozenset({"pdf", "png", "jpg"}))


def test_missing_required_variable_is_named() -> None:
    with pytest.raises(SettingsError, match="APP_NAME is required"):
        load_settings(Example, prefix="APP_", env={})


@pytest.mark.parametrize(
    ("var", "value"),
    [("APP_SIZE", "ten"), ("APP_ENABLED", "maybe"), ("APP_MODE", "c"), ("APP_RATIO", "1,5")],
)
def test_malformed_value_is_named(var: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"{var} is invalid"):
        load_settings(Example, prefix="APP_", env={"APP_NAME": "x", var: value})


def test_settings_are_frozen() -> None:
    settings = load_settings(Example, env={"NAME": "x"})
    with pytest.raises(AttributeError):
        settings.name = "y"  # type: ignore[misc]


def test_platform_settings_check_s3_completeness() -> None:
    with pytest.raises(SettingsError, match="S3_ENDPOINT"):
        load_settings(PlatformSettings, env={"DATABASE_URL": "postgresql:///x", "STORAGE_BACKEND": "s3"})
    with pytest.raises(SettingsError, match="PORT"):
        load_settings(PlatformSettings, env={"DATABASE_URL": "postgresql:///x", "PORT": "70000"})
