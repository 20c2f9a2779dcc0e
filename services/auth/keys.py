"""Signing keys: created on first start, kept in the database (so they survive restarts and are
shared by replicas), rotated on demand. Retired keys stay in the JWKS until the tokens they
signed have expired."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

from libs.database import Database


def _generate(algorithm: str) -> tuple[str, dict[str, Any]]:
    private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
    if algorithm == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
        public_jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    else:
        private = ec.generate_private_key(ec.SECP256R1())
        public_jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, public_jwk


class SigningKeys:
    def __init__(self, db: Database, *, algorithm: str, max_token_lifetime: timedelta) -> None:
        self._db = db
        self.algorithm = algorithm
        self._max_lifetime = max_token_lifetime
        self._active: tuple[str, Any] | None = None

    async def load(self) -> None:
        """Use the newest active key, creating the first one if there is none."""
        async with self._db.transaction() as conn:
            await conn.execute("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
            row = await conn.fetchrow(
                "SELECT kid, private_pem FROM signing_keys WHERE retired_at IS NULL AND algorithm = $1"
                " ORDER BY created_at DESC LIMIT 1",
                self.algorithm,
            )
            if row is None:
                row = await self._insert(conn)
        self._active = (row["kid"], serialization.load_pem_private_key(row["private_pem"].encode(), None))

    async def _insert(self, conn: Any) -> Any:
        pem, jwk = _generate(self.algorithm)
        kid = uuid.uuid4().hex
        jwk.update({"kid": kid, "alg": self.algorithm, "use": "sig"})
        return await conn.fetchrow(
            "INSERT INTO signing_keys (kid, algorithm, private_pem, public_jwk) VALUES ($1, $2, $3, $4)"
            " RETURNING kid, private_pem",
            kid,
            self.algorithm,
            pem,
            jwk,
        )

    async def rotate(self) -> str:
        """Retire the current key(s) and start signing with a new one; return its kid."""
        async with self._db.transaction() as conn:
            await conn.execute("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
            await conn.execute("UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL")
            row = await self._insert(conn)
        self._active = (row["kid"], serialization.load_pem_private_key(row["private_pem"].encode(), None))
        return str(row["kid"])

    async def refresh_active(self) -> None:
        """Pick up a rotation done by another replica."""
        await self.load()

    def sign(self, claims: dict[str, Any]) -> str:
        if self._active is None:
            raise RuntimeError("signing keys not loaded")
        kid, key = self._active
        return jwt.encode(claims, key, algorithm=self.algorithm, headers={"kid": kid, "typ": "JWT"})

    async def public_jwks(self) -> list[dict[str, Any]]:
        cutoff = datetime.now(UTC) - self._max_lifetime - timedelta(minutes=1)
        rows = await self._db.fetch(
            "SELECT public_jwk FROM signing_keys WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at DESC",
            cutoff,
        )
        return [dict(r["public_jwk"]) for r in rows]

    async def verification_key(self, kid: str) -> Any:
        row = await self._db.fetchrow("SELECT public_jwk FROM signing_keys WHERE kid = $1", kid)
        if row is None:
            return None
        return jwt.PyJWK.from_dict(dict(row["public_jwk"])).key
