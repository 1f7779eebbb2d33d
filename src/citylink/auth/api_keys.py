"""Agency API keys: random, shown once, stored only as a hash.

Keys are 256-bit random strings, so a plain SHA-256 is enough to make a stolen table useless; a slow
password hash would only slow every request (docs/decisions.md).
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "clk_"


def new_key() -> tuple[str, str]:
    """A fresh key and its public id (the id is safe to log; the key never is)."""
    key_id = secrets.token_hex(6)
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
