"""Body encryption of the Korean linkage (SCSNS) protocol when ``encAt`` is ``Y``: ARIA-256 in ECB.

- Key: the shared passphrase as UTF-8, cut to 32 bytes, then padded to 32 with ANSI X9.23 (zero
  bytes, then one byte giving the pad length). A passphrase of exactly 32 bytes (or more, once cut)
  is the key as it is, unpadded: X9.23 adds at least one byte, and the key cannot grow past 32.
  An empty passphrase is refused: it would give a key that everyone knows.
- Data: ANSI X9.23 padding, always 1 to 16 bytes. Decryption checks only the last byte (1 to 16),
  since X9.23 lets the filler bytes be anything, though most senders write zeros.
- Carriage in the JSON is unverified (spec: base64 likely), so it is a ``BodyEncoding``. Whitespace
  in base64 text is ignored: some Java encoders wrap lines.
"""

from __future__ import annotations

import base64
from enum import StrEnum
from functools import lru_cache

from citylink.adapters.aria import BLOCK_SIZE, AriaCipher

KEY_SIZE = 32


class BodyEncoding(StrEnum):
    BASE64 = "base64"
    HEX = "hex"


class DecryptionError(ValueError):
    """An encrypted body that cannot be decoded or decrypted: a wrong passphrase, or a damaged body."""


def derive_key(passphrase: str) -> bytes:
    if not passphrase:
        raise ValueError("the SCSNS passphrase is empty")
    key = passphrase.encode()[:KEY_SIZE]
    return key if len(key) == KEY_SIZE else _x923_pad(key, KEY_SIZE - len(key))


def encrypt_body(plaintext: bytes, passphrase: str, encoding: BodyEncoding = BodyEncoding.BASE64) -> str:
    padded = _x923_pad(plaintext, BLOCK_SIZE - len(plaintext) % BLOCK_SIZE)
    ciphertext = _cipher(passphrase).encrypt_ecb(padded)
    return base64.b64encode(ciphertext).decode() if encoding == BodyEncoding.BASE64 else ciphertext.hex()


def decrypt_body(text: str, passphrase: str, encoding: BodyEncoding = BodyEncoding.BASE64) -> bytes:
    try:
        if encoding == BodyEncoding.BASE64:
            ciphertext = base64.b64decode("".join(text.split()), validate=True)
        else:
            ciphertext = bytes.fromhex(text)
    except ValueError as exc:  # binascii.Error is one too
        raise DecryptionError(f"the encrypted body is not valid {encoding}: {exc}") from exc
    if not ciphertext or len(ciphertext) % BLOCK_SIZE:
        raise DecryptionError(
            f"the encrypted body has {len(ciphertext)} bytes, not a positive multiple of {BLOCK_SIZE}"
        )
    padded = _cipher(passphrase).decrypt_ecb(ciphertext)
    pad_length = padded[-1]
    if not 1 <= pad_length <= BLOCK_SIZE:
        raise DecryptionError(f"bad X9.23 padding: last byte {pad_length} is not 1 to {BLOCK_SIZE} (wrong passphrase?)")
    return padded[:-pad_length]


def _x923_pad(data: bytes, length: int) -> bytes:
    return data + bytes(length - 1) + bytes([length])


# The key schedule costs about as much as encrypting a 2 KB body, and partners reuse one passphrase.
@lru_cache(maxsize=16)
def _cipher(passphrase: str) -> AriaCipher:
    return AriaCipher(derive_key(passphrase))
