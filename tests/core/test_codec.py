"""The payload codec: AES-256-GCM with named keys, rotation, clear payloads let through."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DefaultFailureConverterWithEncodedAttributes
from temporalio.exceptions import ApplicationError

from cli.dev import dev_codec_keys, ui_origins
from core.codec import (
    ENCODING,
    KEY_ID,
    CodecError,
    CodecNotConfigured,
    EncryptionCodec,
    TamperedPayloadError,
    UnknownKeyError,
    data_converter,
    new_key_spec,
    payload_codec,
)
from core.settings import Settings
from core.temporal import connect

SECRET = {"name": "张三丰", "id_number": "110101199003071234", "phone": "13912345678"}
OLD, NEW = new_key_spec("k2026"), new_key_spec("k2027")


def clear_payload(value: object = SECRET) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


def holds_secret(payload: Payload) -> bool:
    blob = payload.SerializeToString()
    return any(
        form in blob for value in SECRET.values() for form in (value.encode(), json.dumps(value).strip('"').encode())
    )


async def test_round_trip_hides_data_and_metadata() -> None:
    codec = EncryptionCodec.from_spec(OLD)
    original = [clear_payload(), clear_payload("second")]
    encoded = await codec.encode(original)
    assert holds_secret(original[0])
    for p in encoded:
        assert not holds_secret(p) and b"json/plain" not in p.data
        assert p.metadata["encoding"] == ENCODING and p.metadata[KEY_ID] == b"k2026"
    assert await codec.decode(encoded) == original


async def test_a_fresh_nonce_per_payload() -> None:
    codec = EncryptionCodec.from_spec(OLD)
    first, second = await codec.encode([clear_payload(), clear_payload()])
    assert first.data[:12] != second.data[:12] and first.data != second.data


async def test_rotation_keeps_old_payloads_readable() -> None:
    before = await EncryptionCodec.from_spec(OLD).encode([clear_payload()])
    rotated = EncryptionCodec.from_spec(f"{NEW},{OLD}")  # the new key first: it encrypts
    assert rotated.active_key_id == "k2027" and rotated.key_ids == ["k2027", "k2026"]
    assert await rotated.decode(before) == [clear_payload()]
    after = await rotated.encode([clear_payload()])
    assert after[0].metadata[KEY_ID] == b"k2027"
    assert await rotated.decode(after) == [clear_payload()]
    with pytest.raises(UnknownKeyError):  # the old codec never saw the new key
        await EncryptionCodec.from_spec(OLD).decode(after)


async def test_tampered_ciphertext_fails() -> None:
    codec = EncryptionCodec.from_spec(OLD)
    (encoded,) = await codec.encode([clear_payload()])
    flipped = bytearray(encoded.data)
    flipped[20] ^= 0x01
    tampered = Payload(metadata=dict(encoded.metadata), data=bytes(flipped))
    with pytest.raises(TamperedPayloadError, match="k2026"):
        await codec.decode([tampered])
    # The same id with another key is no better than a changed byte.
    impostor = EncryptionCodec.from_spec(new_key_spec("k2026"))
    with pytest.raises(TamperedPayloadError):
        await impostor.decode([encoded])


async def test_unknown_key_id_is_named() -> None:
    (encoded,) = await EncryptionCodec.from_spec(OLD).encode([clear_payload()])
    with pytest.raises(UnknownKeyError, match=r"key 'k2026', which is not configured .*has: k2027"):
        await EncryptionCodec.from_spec(NEW).decode([encoded])


async def test_clear_payloads_pass_through_decode() -> None:
    codec = EncryptionCodec.from_spec(OLD)
    clear = [clear_payload(), Payload(metadata={"encoding": b"binary/null"}), Payload()]
    assert await codec.decode(clear) == clear


def test_bad_key_specs_are_refused_without_echoing_the_key() -> None:
    short = "k1:" + "QUJD"  # three bytes
    for spec, message in [
        ("", "no codec key"),
        ("k1", "expected 'id:base64key'"),
        ("k1:not base64!", "not valid base64"),
        (short, "32 bytes"),
        (f"{OLD},{OLD}", "listed twice"),
    ]:
        with pytest.raises(CodecError, match=message) as caught:
            EncryptionCodec.from_spec(spec)
        assert OLD.split(":")[1] not in str(caught.value)


async def test_failure_messages_and_stack_traces_are_encrypted() -> None:
    converter = data_converter(EncryptionCodec.from_spec(OLD))
    assert converter.failure_converter_class is DefaultFailureConverterWithEncodedAttributes
    failure = Failure()
    try:
        raise ApplicationError(f"会员 {SECRET['name']} 手机 {SECRET['phone']} 核验失败")
    except ApplicationError as exc:
        await converter.encode_failure(exc, failure)
    blob = failure.SerializeToString()
    assert SECRET["phone"].encode() not in blob and SECRET["name"].encode() not in blob
    assert failure.message == "Encoded failure" and failure.stack_trace == ""
    decoded = await converter.decode_failure(failure)
    assert SECRET["phone"] in str(decoded)


async def test_without_keys_the_service_refuses_to_connect_unless_allowed() -> None:
    settings = Settings(codec_keys=None, codec_allow_clear=False, temporal_address="127.0.0.1:1")
    with pytest.raises(CodecNotConfigured, match="UNIONCARD_CODEC_KEYS is not set"):
        payload_codec(settings)
    with pytest.raises(CodecNotConfigured):
        await connect(settings)  # refused before any connection is tried
    assert payload_codec(settings.model_copy(update={"codec_allow_clear": True})) is None
    configured = payload_codec(Settings(codec_keys=f"{NEW},{OLD}"))
    assert configured is not None and configured.active_key_id == "k2027"


def test_dev_makes_its_key_once_and_keeps_it(tmp_path: Path) -> None:
    settings = Settings(codec_keys=None, data_dir=tmp_path)
    first = dev_codec_keys(settings)
    assert EncryptionCodec.from_spec(first).active_key_id == "dev1"
    assert dev_codec_keys(settings) == first
    path = tmp_path / "codec-keys"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert dev_codec_keys(Settings(codec_keys=NEW, data_dir=tmp_path)) == NEW
    assert "http://127.0.0.1:9233" in ui_origins(Settings(temporal_ui_port=9233)).split(",")
