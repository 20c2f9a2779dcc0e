"""The platform's services by name, imported lazily so an image loads only what it runs."""

from __future__ import annotations

import importlib

from forge.spec import ServiceSpec

SERVICE_NAMES = ("auth", "upload", "ghost", "sonic", "audit")


class UnknownService(ValueError):
    pass


def load_service(name: str) -> ServiceSpec:
    if name not in SERVICE_NAMES:
        raise UnknownService(f"unknown service {name!r}; choose from {', '.join(SERVICE_NAMES)} or 'all'")
    module = importlib.import_module(f"services.{name}.service")
    spec = module.SERVICE
    assert isinstance(spec, ServiceSpec)
    return spec


def parse_services(value: str) -> list[str]:
    """`all` or a comma list such as `upload,ghost`; order follows SERVICE_NAMES."""
    wanted = {part.strip() for part in value.split(",") if part.strip()}
    if not wanted:
        raise UnknownService("no service named")
    if "all" in wanted:
        return list(SERVICE_NAMES)
    unknown = wanted - set(SERVICE_NAMES)
    if unknown:
        raise UnknownService(
            f"unknown service(s) {', '.join(sorted(unknown))}; choose from {', '.join(SERVICE_NAMES)} or 'all'"
        )
    return [name for name in SERVICE_NAMES if name in wanted]
