"""Bank callbacks through the service, without HTTP: only a fresh callback signed with the bank's
secret is taken, a body that is no event is refused, an event is stored once (a repeat is
acknowledged as a duplicate and acts no second time), one contradicting our facts is audited and
refused with nothing stored."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from sqlmodel import Session
from temporalio.client import Client

from core.bank_signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers
from core.db import Database
from core.errors import Invalid, Unauthorized
from core.settings import Settings
from models.card_batch import BankCallback, Card
from models.member import Member
from models.states import CardStatus
from services.bank_callbacks import receive_callback
from tests.services.test_cards import carded_member


async def receive(
    db: Database,
    settings: Settings,
    temporal: Client,
    event: Any,
    *,
    secret: str | None = None,
    at: float | None = None,
) -> dict[str, str]:
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    headers = signed_headers(secret or settings.bank_secret, body, at)
    return await receive_callback(
        db=db, settings=settings, temporal=temporal, body=body, timestamp=headers[TIMESTAMP_HEADER],
        signature=headers[SIGNATURE_HEADER],
    )  # fmt: skip


async def test_only_fresh_callbacks_signed_by_the_bank_are_taken(
    db: Database, settings: Settings, temporal_client: Client
) -> None:
    event = {"event_id": f"svc-{uuid.uuid4().hex}", "kind": "batch.acknowledged", "batch_no": "NOSUCHBATCH"}
    for secret, at, code in (("not-the-bank", None, "bad_signature"), (None, time.time() - 3600, "stale_timestamp")):
        with pytest.raises(Unauthorized) as caught:
            await receive(db, settings, temporal_client, event, secret=secret, at=at)
        assert caught.value.code == code
    with pytest.raises(Unauthorized) as unsigned:
        await receive_callback(
            db=db, settings=settings, temporal=temporal_client, body=b"{}", timestamp=None, signature=None
        )
    assert unsigned.value.code == "missing_signature"
    for body in (b"[1, 2]", b"not json", json.dumps({"event_id": "x" * 81, "kind": "k"}).encode()):
        with pytest.raises(Invalid) as bad:
            await receive(db, settings, temporal_client, body)
        assert bad.value.code == "bad_callback"
    with pytest.raises(Invalid):  # a text that cannot be stored
        await receive(db, settings, temporal_client, {**event, "note": "a\x00b"})


async def test_an_activation_is_stored_once_and_applied_once(
    db: Database, session: Session, settings: Settings, temporal_client: Client
) -> None:
    card_no = carded_member(session)
    event = {"event_id": f"svc-activated-{card_no}", "kind": "card.activated", "card_no": card_no}
    assert await receive(db, settings, temporal_client, event) == {"status": "stored", "event_id": event["event_id"]}
    session.expire_all()
    card = session.get(Card, card_no)
    assert card is not None and card.status is CardStatus.ACTIVATED and card.activated_at is not None
    member = session.get(Member, card.member_no)
    assert member is not None and member.card_status is CardStatus.ACTIVATED
    first = card.activated_at
    again = await receive(db, settings, temporal_client, event)
    assert again == {"status": "duplicate", "event_id": event["event_id"]}
    session.expire_all()
    assert session.get(Card, card_no).activated_at == first  # type: ignore[union-attr]


async def test_a_payout_result_for_no_claim_is_audited_and_not_stored(
    db: Database, session: Session, settings: Settings, temporal_client: Client
) -> None:
    event_id = f"svc-payout-{uuid.uuid4().hex}"
    event = {"event_id": event_id, "kind": "payout.paid", "payout_id": "claim-2147483000-1", "amount": "10.00"}
    with pytest.raises(Invalid) as caught:
        await receive(db, settings, temporal_client, event)
    assert caught.value.code == "callback_refused" and caught.value.details == {"event_id": event_id}
    assert session.get(BankCallback, event_id) is None
    with db.connect() as conn:
        audited = conn.execute(
            "SELECT summary FROM audit_events WHERE action = 'claim.callback_refused' AND summary LIKE %s",
            (f"%{event_id}%",),
        ).fetchall()
    assert len(audited) == 1 and "不对应任何给付申请" in audited[0][0]
