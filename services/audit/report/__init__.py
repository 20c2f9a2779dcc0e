"""Renderers for audit reports: JSON, HTML, PDF and CycloneDX SBOM."""

from services.audit.report.render import render_html, render_json, render_pdf, render_sbom

__all__ = ["render_html", "render_json", "render_pdf", "render_sbom"]
