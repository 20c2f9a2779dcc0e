"""What the deployment checks share: the repository's settings, CLI and route tables, and small
parsers for the files under test (compose interpolation, env files, nginx configuration)."""

from __future__ import annotations

import ast
import functools
import importlib
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import msgspec

from forge.cli import main as forge_cli
from forge.registry import load_service, parse_services
from libs.config import PlatformSettings
from libs.settings import SettingsError, load_settings

REPO = Path(__file__).resolve().parents[2]

# Services whose jobs run in `forge worker <name>` (the deployment shape).
WORKER_SERVICES = frozenset({"sonic", "audit"})

# Paths every platform process serves itself (libs/http): never routed by a gateway.
PLATFORM_PATH_PREFIXES = ("/health", "/metrics", "/schema")

# The public path prefixes of each service, as the deployment issue lists them. A gateway must send
# each of these to a process serving that service, whatever the services' code says today.
PUBLIC_PREFIXES: dict[str, tuple[str, ...]] = {
    "auth": ("/api/v1/auth/", "/api/v1/tokens", "/api/v1/admin/", "/.well-known/jwks.json"),
    "upload": ("/upload", "/upload/"),
    "ghost": ("/api/v1/trapdoor/ghost/",),
    "sonic": ("/api/v1/trapdoor/sonic/", "/api/v1/trapdoor/sonic/ws/{id}"),
    "audit": ("/api/v1/audits", "/api/v1/audits/{id}/events", "/api/v1/usage/"),
}


# ------------------------------------------------------------------------------------------------
# Settings: which environment variables a process needs
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsStruct:
    """A settings Struct of a service and the prefixes its variables are read with."""

    struct: type[msgspec.Struct]
    prefixes: tuple[str, ...]
    prefix_known: bool

    @property
    def label(self) -> str:
        return f"{self.struct.__module__}.{self.struct.__qualname__}"


def _load_settings_prefixes(service: str) -> dict[str, set[str | None]]:
    """For each Struct name, the `prefix=` values the service's code passes to `load_settings`.

    `None` stands for a prefix that is not a string literal.
    """
    found: dict[str, set[str | None]] = {}
    for path in sorted((REPO / "services" / service).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            func_name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if func_name != "load_settings":
                continue
            target = node.args[0]
            struct_name = (
                target.id if isinstance(target, ast.Name) else target.attr if isinstance(target, ast.Attribute) else ""
            )
            if not struct_name:
                continue
            prefix: str | None = ""
            for keyword in node.keywords:
                if keyword.arg == "prefix":
                    value = keyword.value
                    prefix = value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None
            found.setdefault(struct_name, set()).add(prefix)
    return found


@functools.cache
def service_settings(service: str) -> tuple[SettingsStruct, ...]:
    """The settings Structs defined in `services/<service>/settings.py` (none when it has no such module).

    The prefix of each comes from the service's `load_settings(Struct, prefix=...)` calls; a Struct
    loaded nowhere (yet) may use the convention `<NAME>_` or no prefix.
    """
    module_name = f"services.{service}.settings"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return ()
        raise
    calls = _load_settings_prefixes(service)
    structs: list[SettingsStruct] = []
    for obj in vars(module).values():
        if not (isinstance(obj, type) and issubclass(obj, msgspec.Struct) and obj.__module__ == module_name):
            continue
        used = calls.get(obj.__name__, set())
        literal = sorted(p for p in used if p is not None)
        if literal and None not in used:
            structs.append(SettingsStruct(obj, tuple(literal), prefix_known=True))
        else:
            structs.append(SettingsStruct(obj, (f"{service.upper()}_", ""), prefix_known=False))
    return tuple(structs)


def _required_fields(struct: type[msgspec.Struct]) -> list[str]:
    return [f.name for f in msgspec.structs.fields(struct) if f.required]


def required_variables(service: str | None) -> list[tuple[str, ...]]:
    """The variables a process of `service` cannot start without; each entry lists alternative names.

    PlatformSettings' required fields (every forge process) plus the required fields of the
    service's settings Structs. `service=None`: a process that reads only PlatformSettings (migrate).
    """
    needed: list[tuple[str, ...]] = [(name.upper(),) for name in _required_fields(PlatformSettings)]
    if service is not None:
        for item in service_settings(service):
            for name in _required_fields(item.struct):
                needed.append(tuple(f"{prefix}{name}".upper() for prefix in item.prefixes))
    return needed


def settings_variables(struct: type[msgspec.Struct], prefix: str = "") -> list[str]:
    return [f"{prefix}{f.name}".upper() for f in msgspec.structs.fields(struct)]


def shutdown_grace(env: Mapping[str, str]) -> float | None:
    """How long the process takes to stop on SIGTERM with this environment (None: no such setting)."""
    value = getattr(load_settings(PlatformSettings, env=env), "shutdown_grace_seconds", None)
    return None if value is None else float(value)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def duration_seconds(value: str | float | int) -> float:
    """A compose duration (`30s`, `1m30s`, `500ms`) in seconds."""
    if isinstance(value, int | float):
        return float(value)
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value.replace(" ", ""):
        raise ValueError(f"not a duration: {value!r}")
    return sum(float(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[u] for n, u in parts)


def check_environment(service: str | None, env: Mapping[str, str]) -> list[str]:
    """Problems a process of `service` would stop on with this environment (empty: it starts)."""
    problems: list[str] = []
    for alternatives in required_variables(service):
        if not any(env.get(name) for name in alternatives):
            problems.append(f"{' or '.join(alternatives)} is required but not set")
    try:
        load_settings(PlatformSettings, env=env)
    except SettingsError as exc:
        problems.append(f"PlatformSettings: {exc}")
    if service is not None:
        for item in service_settings(service):
            if not item.prefix_known:
                continue
            for prefix in item.prefixes:
                try:
                    load_settings(item.struct, prefix=prefix, env=env)
                except SettingsError as exc:
                    problems.append(f"{item.label} (prefix {prefix!r}): {exc}")
    return problems


# ------------------------------------------------------------------------------------------------
# The forge CLI: what a container command means
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForgeCommand:
    argv: tuple[str, ...]
    command: str
    services: tuple[str, ...]

    @property
    def runs_http(self) -> bool:
        return self.command == "serve"


def parse_forge_command(argv: Sequence[str]) -> ForgeCommand:
    """Parse `argv` (the arguments after `forge`) with the real CLI, without running it.

    Raises click.UsageError (or a subclass) when the CLI would refuse it.
    """
    args = [str(a) for a in argv]
    # The `forge` group has no options of its own, so all of `args` goes to the sub-command.
    with forge_cli.make_context("forge", list(args)) as ctx:
        name, command, rest = forge_cli.resolve_command(ctx, list(args))
        if command is None or name is None:
            raise click.UsageError(f"no forge command in {args!r}")
        with command.make_context(name, rest, parent=ctx) as sub:
            params = sub.params
    services: tuple[str, ...] = ()
    if name in ("serve", "migrate"):
        services = tuple(parse_services(str(params["services"])))
    elif name == "worker" or name == "dead-letters":
        services = (str(params["service"]),)
    return ForgeCommand(tuple(args), name, services)


# ------------------------------------------------------------------------------------------------
# Route tables of the services
# ------------------------------------------------------------------------------------------------


def _app_paths(names: Sequence[str]) -> frozenset[str]:
    from forge.host import PlatformHost

    settings = load_settings(PlatformSettings, env={"DATABASE_URL": "postgresql://deploy-check@localhost/forge"})
    app = PlatformHost(settings, list(names)).create_app()
    return frozenset(route.path for route in app.routes)


@functools.cache
def service_routes(service: str) -> frozenset[str]:
    """The paths `forge serve --services <service>` routes, minus what every process serves.

    Built exactly as the process builds its app (PlatformHost), without connecting anywhere.
    Empty while the service has no routes yet.
    """
    if not load_service(service).routes():
        return frozenset()
    own = _app_paths([service]) - _app_paths([])
    return frozenset(p for p in own if not p.startswith(PLATFORM_PATH_PREFIXES))


def template_matches(template: str, path: str) -> bool:
    """Does the concrete-or-templated `path` fit the Litestar route `template` (`{x:str}` = one segment)?"""
    pattern = "".join(
        "[^/]+" if part.startswith("{") else re.escape(part) for part in re.split(r"(\{[^}]+\})", template) if part
    )
    candidate = re.sub(r"\{[^}]+\}", "x", path)
    return re.fullmatch(pattern, candidate) is not None


# ------------------------------------------------------------------------------------------------
# Env files and compose interpolation
# ------------------------------------------------------------------------------------------------

_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_DOC_LINE = re.compile(r"^\s*#?\s*([A-Z_][A-Z0-9_]*)=", re.MULTILINE)


def parse_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if match is None:
            raise ValueError(f"{path}: cannot parse line {line!r}")
        value = match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[match.group(1)] = value
    return values


def documented_variables(path: Path) -> set[str]:
    """Names an env example documents, set (`NAME=`) or commented out (`# NAME=`)."""
    return set(_DOC_LINE.findall(path.read_text(encoding="utf-8")))


# The value an operator must supply (`${VAR:?...}` with VAR empty in the example): URL-safe.
OPERATOR_VALUE = "operator-supplied"

_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


@dataclass
class Interpolator:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?err}`, `${VAR?err}`, `$VAR`, `$$`."""

    env: Mapping[str, str]
    used: set[str] = field(default_factory=set)
    mandatory: set[str] = field(default_factory=set)

    def __call__(self, value: str) -> str:
        return _INTERPOLATION.sub(self._replace, value)

    def _replace(self, match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("named")
        self.used.add(name)
        op, arg = match.group("op"), match.group("arg") or ""
        value = self.env.get(name)
        # With a colon, an empty value counts as unset.
        present = bool(value) if op and op.startswith(":") else value is not None
        if op in (":-", "-"):
            return value if present and value is not None else self(arg)
        if op in (":?", "?"):
            self.mandatory.add(name)
            return value if present and value is not None else OPERATOR_VALUE
        if op in (":+", "+"):
            return self(arg) if present else ""
        return value or ""

    def walk(self, node: Any) -> Any:
        if isinstance(node, str):
            return self(node)
        if isinstance(node, list):
            return [self.walk(item) for item in node]
        if isinstance(node, dict):
            return {key: self.walk(value) for key, value in node.items()}
        return node


def environment_mapping(value: Any) -> dict[str, str]:
    """A compose `environment:` (mapping or list of `K=V`) as a dict of strings."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {
            str(k): "" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()
        }
    result: dict[str, str] = {}
    for item in value:
        key, _, rest = str(item).partition("=")
        result[key] = rest
    return result


def command_argv(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


# ------------------------------------------------------------------------------------------------
# nginx configuration
# ------------------------------------------------------------------------------------------------


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] | None = None
    parent: Directive | None = field(default=None, repr=False)

    def children(self, name: str) -> Iterator[Directive]:
        for child in self.block or []:
            if child.name == name:
                yield child


def _nginx_tokens(text: str) -> Iterator[str]:
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif ch in "{};":
            yield ch
            i += 1
        elif ch in "'\"":
            quote, i, out = ch, i + 1, []
            while i < n and text[i] != quote:
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                out.append(text[i])
                i += 1
            if i >= n:
                raise ValueError("unterminated quote in nginx configuration")
            i += 1
            yield "\x00" + "".join(out)  # marks a quoted token (never a brace or semicolon)
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in "{};":
                i += 1
            yield text[start:i]


def parse_nginx(text: str) -> Directive:
    """The configuration as a tree of directives under a synthetic `main` block."""
    root = Directive("main", [], [])
    stack = [root]
    words: list[str] = []
    for token in _nginx_tokens(text):
        if token in ("{", "}", ";"):
            if token == "}":
                if words or len(stack) == 1:
                    raise ValueError("unbalanced '}' in nginx configuration")
                stack.pop()
                continue
            if not words:
                raise ValueError(f"empty directive before {token!r} in nginx configuration")
            current = stack[-1]
            directive = Directive(words[0], words[1:], [] if token == "{" else None, parent=current)
            assert current.block is not None
            current.block.append(directive)
            if token == "{":
                stack.append(directive)
            words = []
        else:
            words.append(token.removeprefix("\x00"))
    if len(stack) != 1 or words:
        raise ValueError("unterminated block or directive in nginx configuration")
    return root


def nginx_effective(directive: Directive, name: str) -> list[Directive]:
    """The `name` directives in force inside `directive`: its own, else the closest ancestor's (nginx inheritance)."""
    node: Directive | None = directive
    while node is not None:
        own = list(node.children(name))
        if own:
            return own
        node = node.parent
    return []


def nginx_variable(directive: Directive, variable: str) -> str | None:
    node: Directive | None = directive
    while node is not None:
        for child in node.children("set"):
            if child.args and child.args[0] == variable:
                return child.args[1] if len(child.args) > 1 else ""
        node = node.parent
    return None


_SIZE = re.compile(r"^(\d+)([kKmMgG]?)$")


def nginx_size(value: str) -> int:
    match = _SIZE.match(value)
    if match is None:
        raise ValueError(f"not an nginx size: {value!r}")
    return int(match.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[match.group(2).lower()]
