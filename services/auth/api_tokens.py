"""API token format: `ftk_` + 43 base62 characters (32 random bytes) + a 6-character base62 CRC32.

Like GitHub's tokens, the checksum lets a scanner recognise a real token offline and lets the
service reject a mistyped one without a database round trip. Only an HMAC of the token (keyed
with a server pepper) is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib

PREFIX = "ftk_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BODY_LEN = 43
_CHECK_LEN = 6
TOKEN_LENGTH = len(PREFIX) + _BODY_LEN + _CHECK_LEN


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        digits.append(_ALPHABET[rem])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECK_LEN)


def new_token() -> str:
    body = _base62(int.from_bytes(secrets.token_bytes(32), "big"), _BODY_LEN)
    return f"{PREFIX}{body}{_checksum(body)}"


def is_well_formed(token: str) -> bool:
    """Shape and checksum only: says nothing about whether the token exists or is valid."""
    if len(token) != TOKEN_LENGTH or not token.startswith(PREFIX):
        return False
    body = token[len(PREFIX) : len(PREFIX) + _BODY_LEN]
    check = token[len(PREFIX) + _BODY_LEN :]
    if any(ch not in _ALPHABET for ch in body + check):
        return False
    return hmac.compare_digest(_checksum(body), check)


def token_hash(token: str, pepper: bytes) -> str:
    return hmac.new(pepper, token.encode(), hashlib.sha256).hexdigest()


def masked(token: str) -> str:
    """What lists show: enough to tell tokens apart, never enough to use one."""
    return f"{token[:8]}…{token[-4:]}"
