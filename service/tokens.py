"""Unguessable tokens for links and tickets, derived rather than stored.

token = HMAC-SHA256(key, purpose | salt), written in 26 characters of an alphabet that
survives being read aloud or typed at a door (no 0/O, 1/I/L): 31^26 ≈ 2^128.8 possibilities.
The salt is 16 random bytes kept in the database; the key comes from SECRET_KEY and is not.
Only SHA-256(token) is stored, to find the row again. So a copy of the database yields no
working token, and a new salt revokes a token (a re-sent ticket after a leak).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 26
_SEPARATORS = re.compile(r"[\s\-_.]")


def new_salt() -> bytes:
    return secrets.token_bytes(16)


def derive(key: bytes, purpose: str, salt: bytes) -> str:
    mac = hmac.new(key, f"{purpose}|".encode() + salt, hashlib.sha256).digest()
    number = int.from_bytes(mac, "big")
    chars = []
    for _ in range(LENGTH):
        number, digit = divmod(number, len(ALPHABET))
        chars.append(ALPHABET[digit])
    return "".join(chars)


def digest(token: str) -> bytes:
    """The lookup key of a token as typed or scanned (case and separators do not matter)."""
    return hashlib.sha256(normalise(token).encode()).digest()


def normalise(token: str) -> str:
    return _SEPARATORS.sub("", token).upper()


def looks_valid(token: str) -> bool:
    cleaned = normalise(token)
    return len(cleaned) == LENGTH and all(c in ALPHABET for c in cleaned)


def key_from_secret(secret_key: str) -> bytes:
    return hashlib.sha256(f"tokens:{secret_key}".encode()).digest()


def grouped(token: str) -> str:
    """For reading and typing: ABCD-EFGH-…; typed back in, the hyphens do not matter."""
    return "-".join(token[i : i + 4] for i in range(0, len(token), 4))
