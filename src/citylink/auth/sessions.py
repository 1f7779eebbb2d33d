"""Browser sessions: an HttpOnly cookie holding a short signed claim of who logged in with which key."""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path

import jwt

from citylink.domain.agencies import Principal, Role

COOKIE_NAME = "citylink_session"
_ALGORITHM = "HS256"
_AUDIENCE = "citylink-board"


class SessionError(ValueError):
    """A session cookie that is not ours, is malformed or has expired."""


class SessionSigner:
    def __init__(self, secret: bytes, *, ttl: timedelta, audience: str = _AUDIENCE) -> None:
        self._secret = secret
        self.ttl = ttl
        self._audience = audience  # a board session is no linkage session key, and the other way round

    @classmethod
    def load_or_create(cls, path: Path, *, ttl: timedelta, audience: str = _AUDIENCE) -> SessionSigner:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
        return cls(path.read_bytes(), ttl=ttl, audience=audience)

    def sign(self, principal: Principal, *, now: datetime) -> str:
        claims = {"aud": self._audience, "sub": principal.agency, "role": principal.role.value, "kid": principal.key_id,
                  "exp": int((now + self.ttl).timestamp())}
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    def verify(self, token: str, *, now: datetime) -> Principal:
        try:
            claims = jwt.decode(token, self._secret, algorithms=[_ALGORITHM], audience=self._audience,
                                options={"verify_exp": False, "require": ["exp", "sub", "role", "kid"]})
            if int(claims["exp"]) <= now.timestamp():
                raise SessionError("session expired; log in again")
            return Principal(agency=str(claims["sub"]), role=Role(claims["role"]), key_id=str(claims["kid"]))
        except (jwt.InvalidTokenError, ValueError) as exc:
            if isinstance(exc, SessionError):
                raise
            raise SessionError("invalid session; log in again") from exc
