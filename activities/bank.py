"""The bank adapter: the only code that talks to the bank. A real bank's API replaces the
simulator here, behind the same activity."""

from __future__ import annotations

from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.db import Database
from core.logging import get_logger
from core.settings import Settings
from models.states import VALID_CARD_STATUSES
from rules.money import amount
from workflows.claim import PayoutRequest, PayoutSent

log = get_logger(__name__)
_MEMBER_FIELDS = (
    "member_no",
    "name",
    "id_type",
    "id_number",
    "id_expiry",
    "id_long_term",
    "gender",
    "birth_date",
    "nationality",
    "ethnicity",
    "phone",
    "contact_address",
    "work_address",
    "occupation",
    "card_type",
)


class BankActivities:
    def __init__(self, db: Database, settings: Settings, client: httpx.Client | None = None) -> None:
        self.db = db
        self.settings = settings
        self.client = client or httpx.Client(timeout=30)

    def close(self) -> None:
        self.client.close()

    def _batch(self, batch_id: int) -> dict[str, Any]:
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT batch_no, channel, bank_branch FROM card_batches WHERE id = %s", (batch_id,)
            ).fetchone()
            if row is None or row[0] is None:
                raise ApplicationError(f"批次 {batch_id} 尚无批次号", non_retryable=True)
            cols = ", ".join(f"m.{c}" for c in _MEMBER_FIELDS)
            members = conn.execute(
                f"""SELECT {cols} FROM card_batch_members bm JOIN members m ON m.member_no = bm.member_no
                    WHERE bm.batch_id = %s AND bm."check" = 'passed' ORDER BY m.member_no""",
                (batch_id,),
            ).fetchall()
        return {
            "batch_no": row[0],
            "channel": row[1],
            "branch": row[2],
            "callback_url": self.settings.callback_url,
            "members": [
                {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in zip(_MEMBER_FIELDS, m, strict=True)}
                for m in members
            ],
        }

    def _post(self, path: str, body: dict[str, Any], what: str, *, refusal_is_final: bool = True) -> None:
        """POST to the bank. Unreachable or 5xx: raised to be retried with backoff (every call here
        is one the bank answers the same way when repeated); 4xx: the bank refused ``what``."""
        try:
            response = self.client.post(f"{self.settings.bank_url}{path}", json=body)
        except httpx.HTTPError as exc:
            raise RuntimeError(f"bank unreachable: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise RuntimeError(f"bank answered {response.status_code}")
        if response.status_code >= 400:
            raise ApplicationError(
                f"bank refused {what}: {response.status_code}", type="bank_refused", non_retryable=refusal_is_final
            )

    @activity.defn(name="send_batch_to_bank")
    def send_batch_to_bank(self, batch_id: int) -> str:
        """Send a submitted batch; the bank deduplicates by batch number, so retries are safe."""
        body = self._batch(batch_id)
        self._post("/batches", body, "the batch")
        log.info("batch sent to bank", batch_id=batch_id, batch_no=body["batch_no"], members=len(body["members"]))
        return str(body["batch_no"])

    def _post_card(self, card_no: str, action: str, body: dict[str, Any]) -> None:
        """POST ``/cards/{card_no}/{action}``: the bank answers a repeat the same way, so retries are safe."""
        self._post(f"/cards/{card_no}/{action}", body, f"card {action}")
        log.info("card request sent to bank", card_no=card_no, action=action)

    @activity.defn(name="block_card")
    def block_card(self, card_no: str) -> None:
        """A reported loss: the bank blocks the card, payouts to it fail from now on."""
        self._post_card(card_no, "block", {})

    @activity.defn(name="request_card_replacement")
    def request_card_replacement(self, card_no: str) -> None:
        """Ask for a new card for a lost one; the new number comes back as a card.replaced callback."""
        self._post_card(card_no, "replace", {"callback_url": self.settings.callback_url})

    @activity.defn(name="send_payout")
    def send_payout(self, req: PayoutRequest) -> PayoutSent:
        """Pay a claim's amount onto the member's current card with payout id ``claim-<id>-<attempt>``
        (the bank pays an id once). A repeated attempt resends to the card chosen the first time;
        a new attempt needs a valid card other than the one that failed (empty answer otherwise)."""
        with self.db.connect() as conn:
            row = conn.execute(
                """SELECT c.amount_fen, c.payout_attempt, c.payout_card_no, m.card_no, m.card_status
                   FROM claims c JOIN members m ON m.member_no = c.member_no WHERE c.id = %s FOR UPDATE OF c""",
                (req.claim_id,),
            ).fetchone()
            if row is None:
                raise ApplicationError("给付申请不存在", type="claim_not_found", non_retryable=True)
            amount_fen, attempt, chosen, current, status = row
            if not (attempt == req.attempt and chosen):
                payable = current and status in VALID_CARD_STATUSES
                if not payable or (req.attempt > 0 and current == chosen):
                    return PayoutSent("")
                chosen = current
                conn.execute(
                    "UPDATE claims SET payout_attempt = %s, payout_card_no = %s, updated_at = now() WHERE id = %s",
                    (req.attempt, chosen, req.claim_id),
                )
        body = {
            "payout_id": f"claim-{req.claim_id}-{req.attempt}",
            "card_no": chosen,
            "amount": amount(amount_fen),
            "callback_url": self.settings.callback_url,
        }
        self._post("/payouts", body, "the payout", refusal_is_final=False)  # a payout is never given up
        log.info("payout sent to bank", claim_id=req.claim_id, attempt=req.attempt)
        return PayoutSent(str(chosen))
