"""The ARIA block cipher (RFC 5794, Korean standard KS X 1213) for 128-, 192- and 256-bit keys.

Hand-written because no maintained Python package provides ARIA and ``cryptography`` lacks it.
ECB runs every block of a message at once through numpy table lookups, which pure-Python
rounds are far too slow for.
"""

from __future__ import annotations

from functools import reduce
from operator import xor

import numpy as np
import numpy.typing as npt

BLOCK_SIZE = 16

Blocks = npt.NDArray[np.uint64]  # shape (n, 2): one 16-byte block per row, in memory byte order


def _field_tables() -> tuple[list[int], list[int]]:
    # Powers of the generator 3 of GF(2^8) mod x^8+x^4+x^3+x+1 turn exponentiation into lookups.
    exp, log = [0] * 255, [0] * 256
    x = 1
    for i in range(255):
        exp[i], log[x] = x, i
        x ^= (x << 1) ^ (0x11B if x & 0x80 else 0)
    return exp, log


_EXP, _LOG = _field_tables()


def _sbox(exponent: int, columns: tuple[int, ...], constant: int) -> bytes:
    """x -> B·x^exponent ⊕ constant, with B given by the images of bits 0..7 (RFC 5794 §2.4.2)."""
    out = bytearray()
    for x in range(256):
        power = _EXP[_LOG[x] * exponent % 255] if x else 0
        out.append(reduce(xor, (c for bit, c in enumerate(columns) if power >> bit & 1), constant))
    return bytes(out)


def _inverse(box: bytes) -> bytes:
    out = bytearray(256)
    for x, y in enumerate(box):
        out[y] = x
    return bytes(out)


_SB1 = _sbox(254, (0x1F, 0x3E, 0x7C, 0xF8, 0xF1, 0xE3, 0xC7, 0x8F), 0x63)  # AES's S-box
_SB2 = _sbox(247, (0xAC, 0xC5, 0x12, 0xCF, 0x5B, 0x5F, 0x85, 0xEE), 0xE2)
_SB3, _SB4 = _inverse(_SB1), _inverse(_SB2)
_ODD_LAYER = (_SB1, _SB2, _SB3, _SB4) * 4
_EVEN_LAYER = (_SB3, _SB4, _SB1, _SB2) * 4

# The diffusion layer A: output byte i is the XOR of these input bytes.
_DIFFUSION = (
    (3, 4, 6, 8, 9, 13, 14), (2, 5, 7, 8, 9, 12, 15), (1, 4, 6, 10, 11, 12, 15), (0, 5, 7, 10, 11, 13, 14),
    (0, 2, 5, 8, 11, 14, 15), (1, 3, 4, 9, 10, 14, 15), (0, 2, 7, 9, 10, 12, 13), (1, 3, 6, 8, 11, 12, 13),
    (0, 1, 4, 7, 10, 13, 15), (0, 1, 5, 6, 11, 12, 14), (2, 3, 5, 6, 8, 13, 15), (2, 3, 4, 7, 9, 12, 14),
    (1, 2, 6, 7, 9, 11, 12), (0, 3, 6, 7, 8, 10, 13), (0, 3, 4, 5, 9, 11, 14), (1, 2, 4, 5, 8, 10, 15),
)


def _diffuse(block: bytes) -> bytes:
    return bytes(reduce(xor, (block[i] for i in row)) for row in _DIFFUSION)


def _round_table(layer: tuple[bytes, ...]) -> Blocks:
    """A(SL(x)) is the XOR over positions p of A applied to S_p(x_p) alone, so tabulate that per (p, byte)."""
    table = np.zeros((16, 256, 16), np.uint8)
    for out, row in enumerate(_DIFFUSION):
        for p in row:
            table[p, :, out] = np.frombuffer(layer[p], np.uint8)
    return table.reshape(16 * 256, 16).view(np.uint64)


_ODD = _round_table(_ODD_LAYER)
_EVEN = _round_table(_EVEN_LAYER)
_FINAL = np.frombuffer(b"".join(_EVEN_LAYER), np.uint8)
_OFFSETS = (np.arange(16, dtype=np.uint16) * 256)[:, np.newaxis]  # row of (position, byte) in the tables


def _table_rows(state: Blocks, key: Blocks) -> npt.NDArray[np.uint16]:
    # Position-major (16, n): numpy's take and reduce along the first axis are several times
    # faster than fancy indexing and reducing along the second.
    return (state ^ key).view(np.uint8).T + _OFFSETS


def _round(state: Blocks, key: Blocks, table: Blocks) -> Blocks:
    """FO or FE of RFC 5794: A(SL(state ⊕ key)), for all blocks at once."""
    mixed: Blocks = np.bitwise_xor.reduce(np.take(table, _table_rows(state, key), axis=0), axis=0)
    return mixed


def _crypt(state: Blocks, keys: list[Blocks]) -> Blocks:
    for number, key in enumerate(keys[:-2]):
        state = _round(state, key, _EVEN if number % 2 else _ODD)
    substituted = np.take(_FINAL, _table_rows(state, keys[-2])).T
    return np.ascontiguousarray(substituted).view(np.uint64) ^ keys[-1]


def _as_blocks(data: bytes) -> Blocks:
    return np.frombuffer(data, np.uint64).reshape(-1, 2)


_KEY_CONSTANTS = (
    _as_blocks(bytes.fromhex("517cc1b727220a94fe13abe8fa9a6ee0")),
    _as_blocks(bytes.fromhex("6db14acc9e21c820ff28b1d5ef5de2b0")),
    _as_blocks(bytes.fromhex("db92371d2126e9700324977504e8c90e")),
)


def _rotate_right(block: bytes, bits: int) -> bytes:
    value = int.from_bytes(block)
    return ((value >> bits | value << (128 - bits)) & (1 << 128) - 1).to_bytes(16)


class AriaCipher:
    """One ARIA key with its round keys, computed once; ECB encrypts and decrypts whole messages."""

    def __init__(self, key: bytes) -> None:
        if len(key) not in (16, 24, 32):
            raise ValueError(f"an ARIA key has 16, 24 or 32 bytes, not {len(key)}")
        size = (len(key) - 16) // 8  # 0, 1, 2 for 128, 192, 256 bits
        rounds = 12 + 2 * size
        ck1, ck2, ck3 = (_KEY_CONSTANTS[(size + i) % 3] for i in range(3))
        w0 = _as_blocks(key[:16])
        w1 = _round(w0, ck1, _ODD) ^ _as_blocks(key[16:].ljust(16, b"\0"))
        w2 = _round(w1, ck2, _EVEN) ^ w0
        w3 = _round(w2, ck3, _ODD) ^ w1
        w = [block.tobytes() for block in (w0, w1, w2, w3)]
        # ek1..ek17 (RFC 5794 §2.2): W rotated right by 19 and 31, then left by 61, 31 and 19.
        encrypt = [
            bytes(map(xor, w[i], _rotate_right(w[(i + 1) % 4], bits)))
            for bits in (19, 31, 128 - 61, 128 - 31, 128 - 19)
            for i in range(4)
        ][: rounds + 1]
        decrypt = [encrypt[-1], *map(_diffuse, encrypt[-2:0:-1]), encrypt[0]]
        self._encrypt_keys = [_as_blocks(k) for k in encrypt]
        self._decrypt_keys = [_as_blocks(k) for k in decrypt]

    def encrypt_ecb(self, data: bytes) -> bytes:
        """Encrypt each 16-byte block of data; its length must be a multiple of 16."""
        return _crypt(_as_blocks(_whole_blocks(data)), self._encrypt_keys).tobytes()

    def decrypt_ecb(self, data: bytes) -> bytes:
        """Decrypt each 16-byte block of data; its length must be a multiple of 16."""
        return _crypt(_as_blocks(_whole_blocks(data)), self._decrypt_keys).tobytes()

    def encrypt_block(self, block: bytes) -> bytes:
        return self.encrypt_ecb(_one_block(block))

    def decrypt_block(self, block: bytes) -> bytes:
        return self.decrypt_ecb(_one_block(block))


def _whole_blocks(data: bytes) -> bytes:
    if len(data) % BLOCK_SIZE:
        raise ValueError(f"ARIA ECB needs whole 16-byte blocks; got {len(data)} bytes")
    return data


def _one_block(block: bytes) -> bytes:
    if len(block) != BLOCK_SIZE:
        raise ValueError(f"an ARIA block has 16 bytes, not {len(block)}")
    return block
