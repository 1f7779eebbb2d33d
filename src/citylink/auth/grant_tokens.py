"""Grant tokens: ES256 JWTs a media server can check against our JWKS, MediaMTX-compatible."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from citylink.domain.grants import Grant

ALGORITHM = "ES256"
AUDIENCE = "citylink-video"


class TokenError(ValueError):
    """A token that is not ours, is malformed or has expired."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    grant_id: str
    agency: str
    cameras: tuple[str, ...]


class GrantSigner:
    def __init__(self, private_key: ec.EllipticCurvePrivateKey, *, issuer: str) -> None:
        self._key = private_key
        self._public = private_key.public_key()
        self.issuer = issuer
        jwk: dict[str, Any] = ECAlgorithm.to_jwk(self._public, as_dict=True)
        self.kid = jwt.utils.base64url_encode(
            self._public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        ).decode()[-16:]
        self._jwks = {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHM}]}

    @classmethod
    def load_or_create(cls, path: Path, *, issuer: str) -> GrantSigner:
        """The key lives in the data directory (mode 0600) so tokens survive a restart."""
        if path.exists():
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                raise TokenError(f"{path} is not an EC private key")
            return cls(loaded, issuer=issuer)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return cls(key, issuer=issuer)

    def jwks(self) -> dict[str, Any]:
        return self._jwks

    def sign(self, grant: Grant) -> str:
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": grant.agency,
            "jti": grant.id,
            "iat": int(grant.issued_at.timestamp()),
            "exp": int(grant.expires_at.timestamp()),
            "incident": grant.incident_id,
            "purpose": grant.purpose,
            "cameras": list(grant.cameras),
            # MediaMTX reads this claim when it verifies the JWT itself against our JWKS.
            "mediamtx_permissions": [{"action": "read", "path": f"camera/{c}"} for c in grant.cameras],
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def verify(self, token: str, *, now: datetime, allow_expired: bool = False) -> TokenClaims:
        try:
            claims = jwt.decode(token, self._public, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=self.issuer,
                                options={"require": ["exp", "jti", "sub"], "verify_exp": False,
                                         "verify_iat": False, "verify_nbf": False})
        except jwt.InvalidTokenError as exc:
            raise TokenError(f"invalid grant token: {exc}") from exc
        # Expiry is checked against the injected clock, not the wall clock, so tests need no sleeps.
        if not allow_expired and int(claims["exp"]) <= now.timestamp():
            raise TokenError("grant token expired")
        return TokenClaims(grant_id=str(claims["jti"]), agency=str(claims["sub"]),
                           cameras=tuple(str(c) for c in claims.get("cameras", [])))
