"""Parsers for metadata payloads that appear inside several containers (EXIF, XMP, IPTC, ICC)."""
