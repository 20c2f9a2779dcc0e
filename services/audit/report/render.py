"""Render an `AuditReport` as JSON, HTML, PDF or a CycloneDX SBOM.

The HTML comes from a Jinja2 template with autoescaping on: every string in a report (paths,
copyright statements, author names) comes from the audited code and is untrusted. The PDF is
WeasyPrint's rendering of that HTML with network and file access disabled.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Final

import jinja2
import msgspec

from services.audit.scanner.model import AuditReport
from services.audit.scanner.sbom import sbom_json

TEMPLATES: Final = Path(__file__).parent / "templates"
# Long lists are cut in HTML/PDF so a huge tree still renders quickly; JSON keeps everything.
MAX_ROWS: Final = 500

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _human_bytes(value: int) -> str:
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "—"


def _day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


_environment.filters["human_bytes"] = _human_bytes
_environment.filters["day"] = _day
_environment.filters["date"] = _date


def render_json(report: AuditReport) -> bytes:
    """The report as indented JSON (the format described by `report_json_schema()`)."""
    return msgspec.json.format(msgspec.json.encode(report), indent=2)


def render_html(report: AuditReport) -> str:
    """A self-contained HTML page (inline CSS, no external resources) with print styles."""
    template = _environment.get_template("report.html.j2")
    return template.render(report=report, max_rows=MAX_ROWS)


def render_pdf(report: AuditReport) -> bytes:
    """The HTML report printed to PDF by WeasyPrint."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    # No protocol allowed: the template references nothing external, and nothing from the audited
    # code may make the renderer read local files or reach the network.
    fetcher = URLFetcher(allowed_protocols=(), allow_redirects=False)
    pdf: bytes = HTML(string=render_html(report), url_fetcher=fetcher).write_pdf()
    return pdf


def render_sbom(report: AuditReport) -> bytes:
    """CycloneDX 1.6 JSON, validated against the CycloneDX schema."""
    return sbom_json(report).encode("utf-8")
