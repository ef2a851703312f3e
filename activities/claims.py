"""Claim activities: eligibility with every reason, and applying the bank's payout answers."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Json
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.db import Database
from core.programme import read_config, registration_windows
from core.settings import Settings
from models.states import LABELS, ClaimKind
from rules.calendar import local_date
from rules.card_validity import card_valid_on
from rules.fees import to_fen
from workflows.claim import Eligibility, PayoutCallback, PayoutOutcome

_ILLNESS_LABELS = {
    "malignant_tumour": "恶性肿瘤",
    "end_stage_renal": "终末期肾病",
    "benign_brain_tumour": "良性脑肿瘤",
    "transplant": "重大器官移植术或造血干细胞移植术",
}
KIND_LABELS = LABELS[ClaimKind]

# The enrollment covering the member on the event date (completed, or an instant one), if any;
# a member whose type follows their card is covered by their type's period.
_COVERAGE_SQL = """
    SELECT e.year FROM enrollment_members em JOIN enrollments e ON e.id = em.enrollment_id
    WHERE em.member_no = %s AND em.category = 'enrolled' AND e.status IN ('completed', 'expired')
      AND coalesce(em.coverage_start, e.coverage_start) <= %s AND coalesce(em.coverage_end, e.coverage_end) >= %s
    ORDER BY e.year DESC LIMIT 1"""


class ClaimActivities:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def _claim(self, conn: psycopg.Connection, claim_id: int) -> dict[str, Any]:
        cur = conn.execute(
            """SELECT id, member_no, kind, illness, hospitalised, event_date, created_at FROM claims
               WHERE id = %s FOR UPDATE""",
            (claim_id,),
        )
        row = cur.fetchone()
        if row is None:
            raise ApplicationError("给付申请不存在", type="claim_not_found", non_retryable=True)
        return dict(zip([d.name for d in cur.description or ()], row, strict=True))

    @activity.defn(name="check_claim")
    def check_claim(self, claim_id: int) -> Eligibility:
        """Every condition of the programme, each failure named for the clerk; the amount comes
        from the programme year that covers the event."""
        with self.db.connect() as conn:
            claim = self._claim(conn, claim_id)
            event: date = claim["event_date"]
            reasons = self._card_reasons(conn, claim["member_no"], event)
            covered = conn.execute(_COVERAGE_SQL, (claim["member_no"], event, event)).fetchone()
            amount = 0
            if covered is None:
                reasons.append(f"事发日 {event} 会员不在已完成的集中参保（或即时参保）保障期内")
            else:
                config = read_config(conn, int(covered[0]))
                if config is not None:
                    amount = to_fen(config.claim_amounts.get(ClaimKind(claim["kind"]), Decimal(0)))
                    limit = local_date(claim["created_at"], self.settings.timezone) - event
                    if limit > timedelta(days=config.claim_time_limit_days):
                        reasons.append(f"申请超过时限（事发后{config.claim_time_limit_days}天内申请）")
            reasons += self._kind_reasons(conn, claim)
            conn.execute(
                "UPDATE claims SET reasons = %s::json, amount_fen = %s, updated_at = now() WHERE id = %s",
                (Json(reasons), amount, claim_id),
            )
            return Eligibility(not reasons, reasons, amount)

    def _card_reasons(self, conn: psycopg.Connection, member_no: str, event: date) -> list[str]:
        """The card rule of rules.card_validity: valid from window to window."""
        row = conn.execute(
            """SELECT m.org_id, (SELECT (min(c.issued_at) AT TIME ZONE %s)::date FROM cards c
                                 WHERE c.member_no = m.member_no),
                      ARRAY(SELECT DISTINCT r.year FROM card_registrations r WHERE r.member_no = m.member_no)
               FROM members m WHERE m.member_no = %s""",
            (self.settings.timezone, member_no),
        ).fetchone()
        if row is None or row[1] is None:
            return [f"事发日 {event} 会员尚未领到会员服务卡"]
        windows = registration_windows(conn, int(row[0]))
        if card_valid_on(event, issued_on=row[1], registered_years=row[2], windows=windows):
            return []
        if row[1] > event:
            return [f"事发日 {event} 会员的会员服务卡尚未发卡（发卡日 {row[1]}）"]
        return [f"事发日 {event} 会员的会员服务卡不在有效期内（该期注册期内未注册，或已失效）"]

    @staticmethod
    def _kind_reasons(conn: psycopg.Connection, claim: dict[str, Any]) -> list[str]:
        reasons = []
        if claim["kind"] == "critical_illness":
            if claim["illness"] not in _ILLNESS_LABELS:
                reasons.append("重大疾病须为四类重大疾病之一")
            if not claim["hospitalised"]:
                reasons.append("重大疾病须经住院治疗")
        earlier = conn.execute(
            """SELECT id, status FROM claims WHERE member_no = %s AND kind = %s AND id <> %s
               AND (status IN ('approved', 'payout_pending', 'payout_failed', 'paid')
                    OR (%s = 'critical_illness' AND illness = %s AND status NOT IN ('rejected', 'closed')))""",
            (claim["member_no"], claim["kind"], claim["id"], claim["kind"], claim["illness"]),
        ).fetchall()
        if earlier:
            label = KIND_LABELS.get(claim["kind"], claim["kind"])
            reasons.append(f"该会员已有{label}给付或同一疾病的申请（申请编号 {earlier[0][0]}），每人每类只给付一次")
        return reasons

    @activity.defn(name="apply_payout_result")
    def apply_payout_result(self, cb: PayoutCallback) -> PayoutOutcome:
        """The bank's answer about a payout; an answer about an earlier attempt is stale."""
        with self.db.connect() as conn:
            row = conn.execute("SELECT body FROM bank_callbacks WHERE event_id = %s", (cb.event_id,)).fetchone()
            if row is None:
                raise ApplicationError("银行回调未保存", type="callback_missing", non_retryable=True)
            body: dict[str, Any] = row[0]
            if body.get("payout_id") != f"claim-{cb.claim_id}-{cb.attempt}":
                return PayoutOutcome("stale")
            conn.execute("UPDATE bank_callbacks SET applied_at = now() WHERE event_id = %s", (cb.event_id,))
            if body.get("kind") == "payout.paid":
                conn.execute(
                    "UPDATE claims SET paid_at = coalesce(paid_at, now()), updated_at = now() WHERE id = %s",
                    (cb.claim_id,),
                )
                return PayoutOutcome("paid")
            return PayoutOutcome("failed", str(body.get("reason") or "银行未说明原因"))
