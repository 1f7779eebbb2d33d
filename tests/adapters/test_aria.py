"""ARIA against RFC 5794 and OpenSSL, and the SCSNS body encryption on top of it."""

from __future__ import annotations

import base64
import os
import random
import shutil
import subprocess

import pytest

from citylink.adapters.aria import AriaCipher
from citylink.adapters.scsns_cipher import BodyEncoding, DecryptionError, decrypt_body, derive_key, encrypt_body

RFC_PLAINTEXT = bytes.fromhex("00112233445566778899aabbccddeeff")
# RFC 5794 Appendix A: the key is 00 01 02 ... of the key's length.
RFC_VECTORS = {
    16: "d718fbd6ab644c739da95f3be6451778",
    24: "26449c1805dbe7aa25a468ce263a9e79",
    32: "f92bd7c79fb72e2f2b8f80c1972d24fc",
}
KOREAN = "서울특별시 강남구 테헤란로 152: 112 긴급영상 지원 요청 (발생)".encode()


@pytest.mark.parametrize("key_size", sorted(RFC_VECTORS))
def test_rfc_5794_vectors(key_size: int) -> None:
    cipher = AriaCipher(bytes(range(key_size)))
    ciphertext = bytes.fromhex(RFC_VECTORS[key_size])
    assert cipher.encrypt_block(RFC_PLAINTEXT) == ciphertext
    assert cipher.decrypt_block(ciphertext) == RFC_PLAINTEXT


def test_ecb_encrypts_each_block_on_its_own() -> None:
    cipher = AriaCipher(bytes(range(32)))
    blocks = [RFC_PLAINTEXT, bytes(16), RFC_PLAINTEXT]
    ciphertext = cipher.encrypt_ecb(b"".join(blocks))
    assert ciphertext == b"".join(cipher.encrypt_block(block) for block in blocks)
    assert ciphertext[:16] == ciphertext[32:] == bytes.fromhex(RFC_VECTORS[32])
    assert cipher.decrypt_ecb(ciphertext) == b"".join(blocks)


def test_aria_refuses_wrong_sizes() -> None:
    with pytest.raises(ValueError, match="16, 24 or 32 bytes, not 20"):
        AriaCipher(bytes(20))
    cipher = AriaCipher(bytes(16))
    with pytest.raises(ValueError, match="16 bytes, not 15"):
        cipher.encrypt_block(bytes(15))
    with pytest.raises(ValueError, match="whole 16-byte blocks; got 17"):
        cipher.decrypt_ecb(bytes(17))


def _openssl(key: bytes, data: bytes, *, decrypt: bool = False) -> bytes:
    """Raw ARIA-ECB by the openssl command, no padding; skips (or fails under CI) where it has no ARIA."""
    command = ["openssl", "enc", f"-aria-{len(key) * 8}-ecb", "-nopad", "-K", key.hex(), *(["-d"] if decrypt else [])]
    if shutil.which("openssl") is None:
        _skip_or_fail("the openssl command is not on PATH")
    result = subprocess.run(command, input=data, capture_output=True, check=False)
    if result.returncode != 0:
        _skip_or_fail(f"openssl has no usable {command[2]}: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def _skip_or_fail(reason: str) -> None:
    # As tests/services_available.py does for servers: CI must run these, a user's machine may skip them.
    if os.environ.get("CITYLINK_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}; CITYLINK_REQUIRE_SERVICES=1 requires it")
    pytest.skip(f"{reason}; install OpenSSL with ARIA to compare against it")


@pytest.mark.parametrize("key_size", [16, 24, 32])
def test_ecb_matches_openssl(key_size: int) -> None:
    rng = random.Random(key_size)
    key, data = rng.randbytes(key_size), rng.randbytes(16 * 97)
    cipher = AriaCipher(key)
    ciphertext = cipher.encrypt_ecb(data)
    assert ciphertext == _openssl(key, data)
    assert _openssl(key, ciphertext, decrypt=True) == data
    assert cipher.decrypt_ecb(ciphertext) == data


@pytest.mark.parametrize("length", [0, 5, 16, 33])
def test_padded_body_decrypts_with_openssl_to_x923(length: int) -> None:
    plaintext = KOREAN[:length]
    ciphertext = base64.b64decode(encrypt_body(plaintext, "linkage-secret"))
    pad = 16 - length % 16
    expected = plaintext + bytes(pad - 1) + bytes([pad])
    assert _openssl(derive_key("linkage-secret"), ciphertext, decrypt=True) == expected


def test_key_is_the_passphrase_padded_or_cut_to_32_bytes() -> None:
    assert derive_key("secret") == b"secret" + bytes(25) + b"\x1a"
    assert derive_key("x" * 31) == b"x" * 31 + b"\x01"
    assert derive_key("k" * 32) == b"k" * 32
    assert derive_key("k" * 32 + "more") == b"k" * 32
    # Eleven Hangul syllables are 33 bytes of UTF-8: the cut falls inside the last one.
    assert derive_key("가" * 11) == ("가" * 11).encode()[:32]
    with pytest.raises(ValueError, match="empty"):
        derive_key("")


@pytest.mark.parametrize("encoding", list(BodyEncoding))
@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 31, 32, 33, 2048])
def test_body_round_trip(length: int, encoding: BodyEncoding) -> None:
    plaintext = random.Random(length).randbytes(length)
    text = encrypt_body(plaintext, "공유 비밀번호", encoding)
    ciphertext = base64.b64decode(text) if encoding == BodyEncoding.BASE64 else bytes.fromhex(text)
    assert len(ciphertext) == (length // 16 + 1) * 16  # always padded, a whole block when aligned
    assert decrypt_body(text, "공유 비밀번호", encoding) == plaintext


def test_korean_json_round_trip() -> None:
    body = '{"evtNm": "112 긴급영상", "ocrPlc": "시흥시 정왕동"}'.encode()
    text = encrypt_body(body, "secret")
    assert text != base64.b64encode(body).decode()
    assert decrypt_body(text, "secret").decode() == '{"evtNm": "112 긴급영상", "ocrPlc": "시흥시 정왕동"}'


def test_wrapped_base64_and_uppercase_hex_are_read() -> None:
    text = encrypt_body(KOREAN, "secret")
    wrapped = "\r\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    assert decrypt_body(wrapped, "secret") == KOREAN
    hex_text = encrypt_body(KOREAN, "secret", BodyEncoding.HEX)
    assert decrypt_body(hex_text.upper(), "secret", BodyEncoding.HEX) == KOREAN


def test_wrong_passphrase_never_yields_the_plaintext() -> None:
    text = encrypt_body(KOREAN, "right passphrase")
    refused = 0
    for attempt in range(40):
        try:
            assert decrypt_body(text, f"wrong passphrase {attempt}") != KOREAN
        except DecryptionError as exc:
            assert "bad X9.23 padding" in str(exc)
            refused += 1
    # A random last byte passes the 1..16 check one time in 16.
    assert refused >= 30


@pytest.mark.parametrize(
    ("text", "encoding", "message"),
    [
        ("not base64!", BodyEncoding.BASE64, "not valid base64"),
        ("비밀", BodyEncoding.BASE64, "not valid base64"),
        ("0g==", BodyEncoding.HEX, "not valid hex"),
        ("", BodyEncoding.BASE64, "has 0 bytes, not a positive multiple of 16"),
        (base64.b64encode(bytes(15)).decode(), BodyEncoding.BASE64, "has 15 bytes"),
        (bytes(40).hex(), BodyEncoding.HEX, "has 40 bytes"),
    ],
)
def test_undecodable_bodies_are_refused(text: str, encoding: BodyEncoding, message: str) -> None:
    with pytest.raises(DecryptionError, match=message):
        decrypt_body(text, "secret", encoding)


@pytest.mark.parametrize("last_byte", [0, 17, 255])
def test_bad_padding_byte_is_refused(last_byte: int) -> None:
    block = AriaCipher(derive_key("secret")).encrypt_block(bytes(15) + bytes([last_byte]))
    with pytest.raises(DecryptionError, match=f"last byte {last_byte} is not 1 to 16"):
        decrypt_body(base64.b64encode(block).decode(), "secret")


def test_padding_fillers_are_not_checked() -> None:
    # X9.23 leaves the filler bytes to the sender; only the count in the last byte matters.
    cipher = AriaCipher(derive_key("secret"))
    block = b"abc" + b"\xff" * 12 + b"\x0d"
    assert decrypt_body(cipher.encrypt_block(block).hex(), "secret", BodyEncoding.HEX) == b"abc"
    full_pad_block = bytes(15) + b"\x10"
    assert decrypt_body(cipher.encrypt_ecb(block + full_pad_block).hex(), "secret", BodyEncoding.HEX) == block
