"""Signed bank callbacks: HMAC-SHA256 over ``timestamp.raw_body``, hex, with a 5-minute window."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Bank-Signature"
TIMESTAMP_HEADER = "X-Bank-Timestamp"
MAX_AGE_SECONDS = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(now if now is not None else time.time()))
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        "Content-Type": "application/json",
    }


def verify(
    secret: str | list[str], timestamp: str | None, signature: str | None, body: bytes, now: float | None = None
) -> str:
    """'' when the callback is genuine (signed with ``secret``, or with any of a list of secrets
    while one is being rotated) and fresh, else the reason it is refused."""
    if not timestamp or not signature:
        return "missing_signature"
    try:
        age = (now if now is not None else time.time()) - int(timestamp)
    except ValueError:
        return "bad_timestamp"
    if abs(age) > MAX_AGE_SECONDS:
        return "stale_timestamp"
    secrets = [secret] if isinstance(secret, str) else secret
    if not any(hmac.compare_digest(sign(s, timestamp, body), signature) for s in secrets if s):
        return "bad_signature"
    return ""


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)
