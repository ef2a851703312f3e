"""Payload encryption: what the service sends to Temporal is AES-256-GCM ciphertext.

Every payload (workflow and activity inputs and results, update and signal arguments, memos)
and every failure's message and stack trace leave the process encrypted, so Temporal's
histories never hold an ID number, a name or a phone in clear. Search attributes are not
payloads of the codec: they stay readable and therefore never carry personal data.

Keys are named. ``UNIONCARD_CODEC_KEYS`` lists ``id:base64key`` pairs; the first one encrypts,
every one decrypts, so a key is rotated by putting a new one first and keeping the old ones
for as long as histories encrypted with them are kept. A payload records the id of its key.
Payloads without the codec's encoding (histories written before encryption) pass through.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from core.settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = 32


class CodecError(Exception):
    """A payload that cannot be decrypted, or keys that cannot be used."""


class UnknownKeyError(CodecError):
    """The payload was encrypted with a key that is not configured."""


class TamperedPayloadError(CodecError):
    """The ciphertext fails authentication: changed after encryption, or a different key under the same id."""


class CodecNotConfigured(CodecError):
    """No key is configured and running without encryption was not allowed."""


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over the whole serialized payload (its metadata too), a fresh 12-byte
    nonce per payload, the key id as associated data."""

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise CodecError(f"the active key {active_key_id!r} is not among the keys")
        for key_id, key in keys.items():
            if not key_id or any(c in key_id for c in ":, ") or len(key) != KEY_BYTES:
                raise CodecError(f"key {key_id!r}: an id without ':', ',' or spaces and {KEY_BYTES} bytes are needed")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active_key_id = active_key_id

    @classmethod
    def from_spec(cls, spec: str) -> EncryptionCodec:
        """Keys written as ``id:base64key,id2:base64key``; the first one is active."""
        keys: dict[str, bytes] = {}
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            key_id, sep, encoded = item.partition(":")
            if not sep:
                raise CodecError(f"codec key {key_id[:8]!r}…: expected 'id:base64key'")
            if key_id in keys:
                raise CodecError(f"codec key {key_id!r} is listed twice")
            try:
                keys[key_id] = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                raise CodecError(f"codec key {key_id!r} is not valid base64") from None
        if not keys:
            raise CodecError("no codec key given")
        return cls(keys, next(iter(keys)))

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self.active_key_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        """The clear payload; one the codec did not encrypt comes back as it is."""
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            known = ", ".join(self._ciphers)
            raise UnknownKeyError(
                f"payload encrypted with key {key_id!r}, which is not configured (UNIONCARD_CODEC_KEYS has: {known})"
            )
        data = payload.data
        try:
            clear = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise TamperedPayloadError(f"payload encrypted with key {key_id!r} fails authentication") from None
        return Payload.FromString(clear)


def new_key_spec(key_id: str) -> str:
    """A fresh random key written as ``id:base64key``."""
    key = os.urandom(KEY_BYTES)
    EncryptionCodec({key_id: key}, key_id)  # refuses an id that cannot be written in the list
    return f"{key_id}:{base64.b64encode(key).decode()}"


def payload_codec(settings: Settings) -> EncryptionCodec | None:
    """The service's codec; ``None`` only when running without encryption is allowed."""
    if settings.codec_keys is not None and settings.codec_keys.get_secret_value().strip():
        return EncryptionCodec.from_spec(settings.codec_keys.get_secret_value())
    if settings.codec_allow_clear:
        return None
    raise CodecNotConfigured(
        "UNIONCARD_CODEC_KEYS is not set: Temporal would store personal data in clear. "
        "Set it (`unioncard new-codec-key` makes a key), or set UNIONCARD_CODEC_ALLOW_CLEAR=true "
        "to run without encryption."
    )


def data_converter(codec: PayloadCodec | None) -> DataConverter:
    """The converter of every client: payloads through ``codec``, failure messages and stack
    traces moved into an encoded attribute so that they are encrypted too."""
    return DataConverter(payload_codec=codec, failure_converter_class=DefaultFailureConverterWithEncodedAttributes)


def service_converter(settings: Settings) -> DataConverter:
    return data_converter(payload_codec(settings))
