"""Dependencies from package manifests, and the CycloneDX SBOM built from them.

Manifests read: Python (requirements*.txt, pyproject.toml [project]/[dependency-groups]/Poetry,
Pipfile), JavaScript (package.json with package-lock.json when present), Go (go.mod) and Rust
(Cargo.toml with Cargo.lock when present). Manifests inside vendored directories describe
third-party packages, not the project, and are skipped. Nothing is resolved over the network: a
version is reported only when the manifest pins it or a lock file records it. URLs from manifests
(git or file sources) are never copied into the report because they can embed access tokens.
"""

from __future__ import annotations

import json
import re
import tomllib
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from packageurl import PackageURL

from services.audit.scanner.errors import AuditCancelled, SbomInvalid
from services.audit.scanner.model import Dependency, DependencyScope, Ecosystem, FileEntry

if TYPE_CHECKING:
    from cyclonedx.model.bom import Bom

    from services.audit.scanner.model import AuditReport

MAX_MANIFEST_BYTES: Final = 32 * 1024 * 1024
CYCLONEDX_SPEC: Final = "1.6"

_REQUIREMENTS_NAME: Final = re.compile(r"^requirements([-_.][\w.-]*)?\.(txt|in)$", re.IGNORECASE)
_PEP508: Final = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*(.*)$")
_PEP440_EXACT: Final = re.compile(r"^===?\s*([A-Za-z0-9][A-Za-z0-9._+!-]*)$")
_NPM_NAME: Final = re.compile(r"^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*$", re.IGNORECASE)
_SEMVER_EXACT: Final = re.compile(r"^[=v]?(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?)$")
_BARE_VERSION: Final = re.compile(r"^\d+(?:\.\d+)*(?:[-+._]?[0-9A-Za-z.+-]+)?$")
_GO_REQUIRE: Final = re.compile(r"^([^\s]+)\s+(v[^\s]+)(\s*//\s*indirect\b)?")
_CARGO_EXACT: Final = re.compile(r"^=\s*(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?)$")


class ManifestScan(NamedTuple):
    dependencies: list[Dependency]
    manifests: list[str]
    failed: list[str]


def find_dependencies(
    root: Path,
    files: Sequence[FileEntry],
    *,
    should_cancel: Callable[[], bool] = lambda: False,
) -> ManifestScan:
    """Parse every supported manifest of the inventory (outside vendored directories)."""
    present = {f.path for f in files}
    parsers: list[tuple[str, Callable[[Path, str, set[str]], Iterable[Dependency]]]] = []
    for f in files:
        if f.vendored or f.binary or f.size > MAX_MANIFEST_BYTES:
            continue
        parser = _parser_for(PurePosixPath(f.path), present)
        if parser is not None:
            parsers.append((f.path, parser))
    dependencies: list[Dependency] = []
    manifests: list[str] = []
    failed: list[str] = []
    for rel, parser in parsers:
        if should_cancel():
            raise AuditCancelled()
        try:
            found = list(parser(root, rel, present))
        except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError, OSError):
            # Malformed manifests (bad JSON/TOML, unexpected shapes) are reported, not fatal.
            failed.append(rel)
            continue
        manifests.append(rel)
        dependencies.extend(found)
    unique = {(d.manifest, d.ecosystem, d.name, d.version, d.scope): d for d in dependencies}
    ordered = sorted(unique.values(), key=lambda d: (d.ecosystem, d.name.lower(), d.manifest, d.version or ""))
    return ManifestScan(ordered, manifests, failed)


def _parser_for(path: PurePosixPath, present: set[str]) -> Callable[[Path, str, set[str]], Iterable[Dependency]] | None:
    name = path.name
    sibling = (path.parent / "package.json").as_posix()
    if _REQUIREMENTS_NAME.match(name) or (path.parent.name == "requirements" and path.suffix == ".txt"):
        return _requirements
    table: dict[str, Callable[[Path, str, set[str]], Iterable[Dependency]]] = {
        "pyproject.toml": _pyproject,
        "Pipfile": _pipfile,
        "package.json": _package_json,
        "go.mod": _go_mod,
        "Cargo.toml": _cargo_toml,
    }
    if name == "package-lock.json" and sibling not in present:
        return _package_lock_alone
    return table.get(name)


def _read_text(root: Path, rel: str) -> str:
    return (root / rel).read_text(encoding="utf-8-sig")


def _pypi(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _purl(ecosystem: Ecosystem, name: str, version: str | None) -> str:
    namespace: str | None = None
    if ecosystem == "npm" and name.startswith("@") and "/" in name:
        namespace, name = name.split("/", 1)
    elif ecosystem == "golang" and "/" in name:
        namespace, name = name.rsplit("/", 1)
    elif ecosystem == "pypi":
        name = _pypi(name)
    purl_type = {"pypi": "pypi", "npm": "npm", "golang": "golang", "cargo": "cargo"}[ecosystem]
    return str(PackageURL(type=purl_type, namespace=namespace, name=name, version=version).to_string())


def _dep(
    ecosystem: Ecosystem,
    name: str,
    manifest: str,
    *,
    version: str | None = None,
    spec: str | None = None,
    scope: DependencyScope = "required",
    direct: bool = True,
) -> Dependency:
    return Dependency(
        ecosystem=ecosystem,
        name=_pypi(name) if ecosystem == "pypi" else name,
        purl=_purl(ecosystem, name, version),
        manifest=manifest,
        version=version,
        version_spec=spec or None,
        scope=scope,
        direct=direct,
    )


def parse_pep508(requirement: str) -> tuple[str, str | None, str | None] | None:
    """(name, exact version, constraint) of a PEP 508 requirement, or None if it is not one."""
    match = _PEP508.match(requirement)
    if match is None:
        return None
    name, _, rest = match.groups()
    rest = rest.split(";", 1)[0].strip()
    if rest.startswith("@"):
        return name, None, "direct reference"
    if rest.startswith("(") and rest.endswith(")"):
        rest = rest[1:-1].strip()
    if rest and not re.match(r"^(===?|~=|!=|<=?|>=?)", rest):
        return None
    exact = _PEP440_EXACT.match(rest)
    return name, (exact.group(1) if exact else None), rest or None


def _requirements(root: Path, rel: str, present: set[str]) -> Iterator[Dependency]:
    logical = ""
    for raw in _read_text(root, rel).splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        current, logical = logical.strip(), ""
        # Options (-r, -e, --index-url...) and bare paths/URLs name no registry package.
        if not current or current.startswith(("-", ".", "/")) or "://" in current.split(";")[0].split("@")[0]:
            continue
        current = re.sub(r"\s--hash[=\s]\S+", "", current)
        parsed = parse_pep508(current)
        if parsed is not None:
            name, version, spec = parsed
            yield _dep("pypi", name, rel, version=version, spec=spec)


def _pep508_list(items: Any, rel: str, scope: DependencyScope) -> Iterator[Dependency]:
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str) and (parsed := parse_pep508(item)) is not None:
            name, version, spec = parsed
            yield _dep("pypi", name, rel, version=version, spec=spec, scope=scope)


def _poetry_table(table: Any, rel: str, scope: DependencyScope) -> Iterator[Dependency]:
    for name, value in (table or {}).items():
        if name.lower() == "python":
            continue
        spec = value.get("version") if isinstance(value, dict) else value
        if isinstance(value, dict) and spec is None:
            spec = "path" if "path" in value else "vcs" if any(k in value for k in ("git", "url")) else None
        spec = str(spec) if spec is not None else None
        # Poetry reads a bare version ("1.2.3") as an exact pin.
        exact = spec if spec and _BARE_VERSION.match(spec) else None
        if spec and (m := _PEP440_EXACT.match(spec)):
            exact = m.group(1)
        optional = isinstance(value, dict) and bool(value.get("optional"))
        yield _dep("pypi", name, rel, version=exact, spec=spec, scope="optional" if optional else scope)


def _pyproject(root: Path, rel: str, present: set[str]) -> Iterator[Dependency]:
    data = tomllib.loads(_read_text(root, rel))
    project = data.get("project") or {}
    yield from _pep508_list(project.get("dependencies"), rel, "required")
    for items in (project.get("optional-dependencies") or {}).values():
        yield from _pep508_list(items, rel, "optional")
    for items in (data.get("dependency-groups") or {}).values():
        yield from _pep508_list(items, rel, "dev")
    poetry = (data.get("tool") or {}).get("poetry") or {}
    yield from _poetry_table(poetry.get("dependencies"), rel, "required")
    yield from _poetry_table(poetry.get("dev-dependencies"), rel, "dev")
    for group in (poetry.get("group") or {}).values():
        yield from _poetry_table((group or {}).get("dependencies"), rel, "dev")


def _pipfile(root: Path, rel: str, present: set[str]) -> Iterator[Dependency]:
    data = tomllib.loads(_read_text(root, rel))
    sections: tuple[tuple[str, DependencyScope], ...] = (("packages", "required"), ("dev-packages", "dev"))
    for section, scope in sections:
        for name, value in (data.get(section) or {}).items():
            spec = value.get("version") if isinstance(value, dict) else value
            spec = None if spec in (None, "*") else str(spec)
            exact = _PEP440_EXACT.match(spec) if spec else None
            yield _dep("pypi", name, rel, version=exact.group(1) if exact else None, spec=spec, scope=scope)


def _npm_spec(spec: Any) -> tuple[str | None, str | None]:
    if not isinstance(spec, str):
        return None, None
    if re.match(r"^(git|file:|link:|https?:|github:|[\w.-]+/[\w.-]+$)", spec) or "://" in spec:
        return None, "non-registry source"
    exact = _SEMVER_EXACT.match(spec.strip())
    return (exact.group(1) if exact else None), spec.strip() or None


_NPM_SECTIONS: Final[tuple[tuple[str, DependencyScope], ...]] = (
    ("dependencies", "required"),
    ("devDependencies", "dev"),
    ("optionalDependencies", "optional"),
    ("peerDependencies", "optional"),
)


def _package_json(root: Path, rel: str, present: set[str]) -> Iterator[Dependency]:
    data = json.loads(_read_text(root, rel))
    declared: dict[str, tuple[str | None, DependencyScope]] = {}
    for section, section_scope in _NPM_SECTIONS:
        for name, spec in (data.get(section) or {}).items():
            if _NPM_NAME.match(name) and name not in declared:
                declared[name] = (spec if isinstance(spec, str) else None, section_scope)
    lock_rel = (PurePosixPath(rel).parent / "package-lock.json").as_posix()
    locked: dict[str, str] = {}
    if lock_rel in present:
        for name, version, dev, optional, top in _npm_lock_entries(root, lock_rel):
            if top and name in declared:
                locked[name] = version
                continue
            yield _dep("npm", name, lock_rel, version=version, scope=_lock_scope(dev, optional), direct=False)
    for name, (raw_spec, scope) in declared.items():
        pinned, spec = _npm_spec(raw_spec)
        yield _dep("npm", name, rel, version=locked.get(name, pinned), spec=spec, scope=scope)


def _lock_scope(dev: bool, optional: bool) -> DependencyScope:
    return "dev" if dev else "optional" if optional else "required"


def _package_lock_alone(root: Path, rel: str, present: set[str]) -> Iterator[Dependency]:
    for name, version, dev, optional, _ in _npm_lock_entries(root, rel):
        yield _dep("npm", name, rel, version=version, scope=_lock_scope(dev, optional), direct=False)


def _npm_lock_entries(root: Path, rel: str) -> Iterator[tuple[str, str, bool, bool, bool]]:
    """(name, version, dev, optional, top-level) for every registry package of a package-lock.json."""
    data = json.loads(_read_text(root, rel))
    packages = data.get("packages")
    if isinstance(packages, dict):
        for key, entry in packages.items():
            if not key or not isinstance(entry, dict) or entry.get("link") or "node_modules/" not in key:
                continue
            name = str(entry.get("name") or key.rsplit("node_modules/", 1)[1])
            version = entry.get("version")
            if _NPM_NAME.match(name) and isinstance(version, str) and _SEMVER_EXACT.match(version):
                top = key.count("node_modules/") == 1
                yield name, version, bool(entry.get("dev")), bool(entry.get("optional")), top
        return
    yield from _npm_lock_v1(data.get("dependencies") or {}, top=True)


def _npm_lock_v1(deps: dict[str, Any], *, top: bool) -> Iterator[tuple[str, str, bool, bool, bool]]:
    for name, entry in deps.items():
        if not isinstance(entry, dict):
            continue
        version = entry.get("version")
        if _NPM_NAME.match(name) and isinstance(version, str) and _SEMVER_EXACT.match(version):
            yield name, version, bool(entry.get("dev")), bool(entry.get("optional")), top
        yield from _npm_lock_v1(entry.get("dependencies") or {}, top=False)


def _go_mod(root: Path, rel: str, present: set[str]) -> Iterator[Dependency]:
    in_block = False
    for raw in _read_text(root, rel).splitlines():
        line = raw.strip()
        if in_block:
            if line.startswith(")"):
                in_block = False
                continue
            entry = line
        elif line.startswith("require"):
            rest = line[len("require") :].strip()
            if rest.startswith("("):
                in_block = True
                continue
            entry = rest
        else:
            continue
        match = _GO_REQUIRE.match(entry)
        if match:
            module, version, indirect = match.groups()
            yield _dep("golang", module, rel, version=version, spec=version, direct=indirect is None)


def _cargo_sections(data: dict[str, Any]) -> Iterator[tuple[dict[str, Any], DependencyScope]]:
    scopes: tuple[tuple[str, DependencyScope], ...] = (
        ("dependencies", "required"),
        ("dev-dependencies", "dev"),
        ("build-dependencies", "build"),
    )
    for key, scope in scopes:
        yield data.get(key) or {}, scope
    for target in (data.get("target") or {}).values():
        for key, scope in scopes:
            yield (target or {}).get(key) or {}, scope
    yield (data.get("workspace") or {}).get("dependencies") or {}, "required"


def _cargo_toml(root: Path, rel: str, present: set[str]) -> Iterator[Dependency]:
    data = tomllib.loads(_read_text(root, rel))
    lock_rel = (PurePosixPath(rel).parent / "Cargo.lock").as_posix()
    locked: dict[str, list[str]] = {}
    if lock_rel in present:
        lock = tomllib.loads(_read_text(root, lock_rel))
        for package in lock.get("package") or []:
            # Packages without a source are the workspace's own crates.
            if isinstance(package, dict) and str(package.get("source", "")).startswith("registry+"):
                locked.setdefault(str(package["name"]), []).append(str(package["version"]))
    declared: set[str] = set()
    for table, scope in _cargo_sections(data):
        for key, value in table.items():
            name = str(value.get("package", key)) if isinstance(value, dict) else key
            if isinstance(value, dict) and value.get("workspace"):
                continue
            spec = value.get("version") if isinstance(value, dict) else value
            if isinstance(value, dict) and spec is None:
                spec = "path" if "path" in value else "git" if "git" in value else None
            exact = _CARGO_EXACT.match(spec) if isinstance(spec, str) else None
            version = exact.group(1) if exact else None
            versions = locked.get(name, [])
            if version is None and len(versions) == 1:
                version = versions[0]
            optional = isinstance(value, dict) and bool(value.get("optional"))
            declared.add(name)
            yield _dep(
                "cargo",
                name,
                rel,
                version=version,
                spec=str(spec) if spec else None,
                scope="optional" if optional else scope,
            )
    for name, versions in locked.items():
        if name in declared and len(versions) == 1:
            continue
        for version in versions:
            yield _dep("cargo", name, lock_rel, version=version, direct=False)


def cyclonedx_version() -> str:
    return metadata.version("cyclonedx-python-lib")


def build_bom(report: AuditReport) -> Bom:
    """A CycloneDX BOM whose root component is the audited source and whose components are its deps."""
    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentScope, ComponentType
    from cyclonedx.model.license import LicenseExpression

    source = report.source
    seed = f"forgetrace:{source.repository or source.name}:{source.commit}:{report.generated_at.isoformat()}"
    bom = Bom(serial_number=uuid.uuid5(uuid.NAMESPACE_URL, seed))
    bom.metadata.timestamp = report.generated_at
    root = Component(
        type=ComponentType.APPLICATION,
        name=source.name,
        version=source.commit,
        bom_ref="forgetrace:source",
        licenses=[LicenseExpression(report.summary.declared_license)] if report.summary.declared_license else None,
    )
    bom.metadata.component = root
    bom.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="forgetrace-audit", version=report.schema_version)
    )
    scopes = {
        "required": ComponentScope.REQUIRED,
        "optional": ComponentScope.OPTIONAL,
        "dev": ComponentScope.EXCLUDED,
        "build": ComponentScope.EXCLUDED,
    }
    components: dict[str, Component] = {}
    direct: list[Component] = []
    for dep in report.dependencies:
        component = components.get(dep.purl)
        if component is None:
            properties = [Property(name="forgetrace:scope", value=dep.scope)]
            if dep.version_spec:
                properties.append(Property(name="forgetrace:version_spec", value=dep.version_spec))
            component = Component(
                type=ComponentType.LIBRARY,
                name=dep.name,
                version=dep.version,
                purl=PackageURL.from_string(dep.purl),
                bom_ref=dep.purl,
                scope=scopes[dep.scope],
                properties=properties,
            )
            components[dep.purl] = component
            bom.components.add(component)
        component.properties.add(Property(name="forgetrace:manifest", value=dep.manifest))
        if dep.direct and component not in direct:
            direct.append(component)
    bom.register_dependency(root, direct)
    for component in components.values():
        if component not in direct:
            bom.register_dependency(component)
    return bom


def sbom_json(report: AuditReport) -> str:
    """CycloneDX 1.6 JSON for `report`, validated against the official schema (SbomInvalid if not)."""
    from cyclonedx.output.json import JsonV1Dot6

    document = JsonV1Dot6(build_bom(report)).output_as_string(indent=2)
    validate_sbom(document)
    return document


def validate_sbom(document: str) -> None:
    """Validate CycloneDX 1.6 JSON with cyclonedx-python-lib's strict JSON validator."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(document)
    if error is not None:
        message = getattr(error.data, "message", None) or str(error.data).splitlines()[0]
        raise SbomInvalid(f"generated SBOM does not validate: {message}")
