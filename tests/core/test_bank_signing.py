"""Bank callback signatures while the shared secret is rotated: the new secret and the older ones
listed in UNIONCARD_BANK_PREVIOUS_SECRETS are accepted, nothing else."""

from __future__ import annotations

from core.bank_signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers, verify
from core.settings import Settings


def test_a_callback_signed_with_a_previous_secret_passes_only_while_it_is_listed() -> None:
    settings = Settings(bank_secret="new-secret", bank_previous_secrets=" old-secret , ,")
    assert settings.bank_secrets == ["new-secret", "old-secret"]
    body = b'{"event_id": "e1"}'
    for secret, expected in (("new-secret", ""), ("old-secret", ""), ("other", "bad_signature")):
        h = signed_headers(secret, body)
        assert verify(settings.bank_secrets, h[TIMESTAMP_HEADER], h[SIGNATURE_HEADER], body) == expected, secret
    done = Settings(bank_secret="new-secret")  # the switch-over is over: the old one is refused
    h = signed_headers("old-secret", body)
    assert verify(done.bank_secrets, h[TIMESTAMP_HEADER], h[SIGNATURE_HEADER], body) == "bad_signature"
    assert verify(["", ""], h[TIMESTAMP_HEADER], h[SIGNATURE_HEADER], body) == "bad_signature"  # empty never signs
