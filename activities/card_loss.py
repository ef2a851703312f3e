"""Card loss activities: applying the bank's replacement card to the registry."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.db import Database
from core.settings import Settings
from rules.calendar import today
from workflows.card_loss import ApplyReplacement

# One statement, after the old card is locked: the new card (registered when the old one was
# registered for the current programme year), the old card's registrations copied to it, the old
# card replaced, the member's current card moved on, the loss projected.
_REPLACE_SQL = """
    WITH new_card AS (
      INSERT INTO cards (card_no, member_no, batch_id, status, issued_at)
      VALUES (%(new)s, %(member)s, NULL, %(status)s, now()) ON CONFLICT (card_no) DO NOTHING),
    kept AS (
      INSERT INTO card_registrations (card_no, year, member_no, registered_by, registered_at)
      SELECT %(new)s, r.year, r.member_no, r.registered_by, r.registered_at
      FROM card_registrations r WHERE r.card_no = %(old)s
      ON CONFLICT (card_no, year) DO NOTHING),
    old_card AS (
      UPDATE cards SET status = 'replaced', replaced_by = %(new)s WHERE card_no = %(old)s),
    member AS (
      UPDATE members SET card_no = %(new)s, card_status = %(status)s, updated_at = now()
      WHERE member_no = %(member)s AND card_no = %(old)s)
    UPDATE card_losses SET new_card_no = %(new)s, updated_at = now() WHERE card_no = %(old)s"""


class CardLossActivities:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    @activity.defn(name="apply_replacement")
    def apply_replacement(self, inp: ApplyReplacement) -> str:
        """The bank's new card for a lost one becomes the member's current card. Idempotent: a card
        already replaced answers its replacement."""
        with self.db.connect() as conn, conn.transaction():
            stored = conn.execute("SELECT body FROM bank_callbacks WHERE event_id = %s", (inp.event_id,)).fetchone()
            if stored is None or stored[0].get("old_card_no") != inp.card_no or not stored[0].get("new_card_no"):
                raise ApplicationError("补卡的银行回调未保存", type="callback_missing", non_retryable=True)
            new_card_no = str(stored[0]["new_card_no"])
            card = conn.execute(
                "SELECT member_no, replaced_by FROM cards WHERE card_no = %s FOR UPDATE", (inp.card_no,)
            ).fetchone()
            if card is None:
                raise ApplicationError("挂失的卡不存在", type="card_not_found", non_retryable=True)
            if card[1] is not None:
                return str(card[1])
            year = today(self.settings.timezone).year
            registered = conn.execute(
                "SELECT 1 FROM card_registrations WHERE card_no = %s AND year = %s", (inp.card_no, year)
            ).fetchone()
            conn.execute(
                _REPLACE_SQL,
                {
                    "old": inp.card_no,
                    "new": new_card_no,
                    "member": card[0],
                    "status": "registered" if registered else "issued",
                },
            )
            conn.execute("UPDATE bank_callbacks SET applied_at = now() WHERE event_id = %s", (inp.event_id,))
            return new_card_no
