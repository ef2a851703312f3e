"""Card batch activities: set-based SQL over a batch's members, projections and audit rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import psycopg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.failures import found, storable
from core.db import Database
from core.metrics import BusinessMetrics
from core.settings import Settings
from rules.calendar import today
from workflows.card_batch import ApplyEdit, ApplyFiles, Counts, EditResult, Transition

_COUNTS_SQL = """
    SELECT count(*),
           count(*) FILTER (WHERE "check" = 'passed'),
           count(*) FILTER (WHERE "check" = 'failed'),
           count(*) FILTER (WHERE "check" = 'unchecked'),
           count(*) FILTER (WHERE outcome = 'issued'),
           count(*) FILTER (WHERE outcome = 'rejected'),
           count(*) FILTER (WHERE outcome IS NULL)
    FROM card_batch_members WHERE batch_id = %s"""


def batch_counts(conn: psycopg.Connection, batch_id: int) -> Counts:
    row = conn.execute(_COUNTS_SQL, (batch_id,)).fetchone()
    assert row is not None
    return Counts(*row)


def _project_counts(conn: psycopg.Connection, batch_id: int, counts: Counts) -> None:
    conn.execute(
        """UPDATE card_batches SET members = %s, passed = %s, failed = %s, issued = %s, rejected = %s,
                  updated_at = now() WHERE id = %s""",
        (counts.members, counts.passed, counts.failed, counts.issued, counts.rejected, batch_id),
    )


# A batch's members without an outcome freed for another batch (cancelled, revoked, or stopped by an admin).
RELEASE_MEMBERS_SQL = """
    UPDATE members m SET card_status = 'none', updated_at = now() FROM card_batch_members bm
    WHERE bm.batch_id = %s AND bm.member_no = m.member_no AND bm.outcome IS NULL AND m.card_status = 'pending'"""

CHECK_CHUNK = 2000
# The system validation of seed 003 for one chunk of a batch's members (keyset by member number);
# returns the chunk's last member number, or NULL when there was none.
_CHECK_SQL = """
    WITH chunk AS (
      SELECT x.member_no FROM card_batch_members x
      WHERE x.batch_id = %(batch)s AND x.member_no > %(after)s ORDER BY x.member_no LIMIT %(n)s),
    checked AS (
      UPDATE card_batch_members bm
      SET "check" = CASE WHEN r.reasons = '' THEN 'passed' ELSE 'failed' END, check_reasons = NULLIF(r.reasons, '')
      FROM (
        SELECT m.member_no, concat_ws('；',
          CASE WHEN m.employment_status = 'retired' THEN '已退休' END,
          CASE WHEN m.employment_status = 'deceased' THEN '已故' END,
          CASE WHEN NOT m.id_long_term AND (m.id_expiry IS NULL OR m.id_expiry <= %(today)s)
               THEN '证件已过期或缺少有效期' END,
          CASE WHEN b.channel = 'special' AND (m.nationality IS NULL OR m.id_type IS NULL
                    OR (m.id_expiry IS NULL AND NOT m.id_long_term))
               THEN '特殊通道资料不完整（证件类型、有效期、国籍）' END,
          CASE WHEN b.channel = 'normal' AND m.special_channel THEN '请移至特殊办卡通道' END
        ) AS reasons
        FROM chunk JOIN members m ON m.member_no = chunk.member_no
        JOIN card_batches b ON b.id = %(batch)s
      ) r
      WHERE bm.batch_id = %(batch)s AND bm.member_no = r.member_no
      RETURNING bm.member_no)
    SELECT max(member_no) FROM checked"""


class CardBatchActivities:
    def __init__(self, db: Database, settings: Settings, metrics: BusinessMetrics | None = None) -> None:
        self.db = db
        self.settings = settings
        self.metrics = metrics or BusinessMetrics()

    def _today(self) -> date:
        return today(self.settings.timezone)  # a batch number carries the programme's day

    @activity.defn(name="apply_member_edit")
    def apply_member_edit(self, inp: ApplyEdit) -> EditResult:
        """Add or remove the staged members. Adding locks members (card status none -> pending)
        and is all or nothing: members of another union, in an open batch or holding a card are
        named and nothing changes. Any edit sends every member back to unchecked."""
        with self.db.connect() as conn, conn.transaction():
            req = conn.execute(
                "SELECT kind, member_nos FROM card_batch_requests WHERE id = %s AND batch_id = %s",
                (inp.request_id, inp.batch_id),
            ).fetchone()
            req = found(req, "card_batch_requests")
            kind, member_nos = req[0], list(req[1])
            result = self._edit(conn, inp.batch_id, kind, member_nos)
            if result.refused:  # found before any change: nothing to undo
                conn.execute("DELETE FROM card_batch_requests WHERE id = %s", (inp.request_id,))
                return result
            conn.execute(
                """UPDATE card_batch_members SET "check" = 'unchecked', check_reasons = NULL WHERE batch_id = %s""",
                (inp.batch_id,),
            )
            result.changed = bool(result.added or result.removed or kind == "recheck")
            result.counts = batch_counts(conn, inp.batch_id)
            _project_counts(conn, inp.batch_id, result.counts)
            conn.execute("DELETE FROM card_batch_requests WHERE id = %s", (inp.request_id,))
            return result

    def _edit(self, conn: psycopg.Connection, batch_id: int, kind: str, member_nos: list[str]) -> EditResult:
        if kind == "recheck":  # a member's data was corrected: every member is checked again
            return EditResult()
        if kind == "remove_failed":
            return EditResult(removed=self._remove(conn, batch_id, """AND "check" = 'failed'""", ()))
        if kind == "remove":
            return EditResult(removed=self._remove(conn, batch_id, "AND member_no = ANY(%s)", (member_nos,)))
        batch_org = "(SELECT org_id FROM card_batches WHERE id = %s)"
        if kind == "add_all":
            chosen = f"org_id = {batch_org} AND card_status = 'none'"
            args: tuple[Any, ...] = (batch_id,)
        else:
            refused = conn.execute(
                f"""SELECT n FROM unnest(%s::text[]) AS n
                    WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.member_no = n
                                      AND m.org_id = {batch_org} AND m.card_status = 'none')""",
                (member_nos, batch_id),
            ).fetchall()
            if refused:
                return EditResult(refused=sorted(r[0] for r in refused))
            chosen = f"member_no = ANY(%s) AND org_id = {batch_org} AND card_status = 'none'"
            args = (member_nos, batch_id)
        added = conn.execute(
            f"""WITH locked AS (UPDATE members SET card_status = 'pending', updated_at = now()
                                WHERE {chosen} RETURNING member_no)
                INSERT INTO card_batch_members (batch_id, member_no, "check")
                SELECT %s, member_no, 'unchecked' FROM locked""",
            (*args, batch_id),
        ).rowcount
        return EditResult(added=added)

    @staticmethod
    def _remove(conn: psycopg.Connection, batch_id: int, where: str, args: tuple[Any, ...]) -> int:
        rows = conn.execute(
            f"""WITH gone AS (DELETE FROM card_batch_members WHERE batch_id = %s {where} RETURNING member_no)
                UPDATE members m SET card_status = 'none', updated_at = now() FROM gone
                WHERE m.member_no = gone.member_no AND m.card_status = 'pending'""",
            (batch_id, *args),
        )
        return rows.rowcount

    @activity.defn(name="check_batch_members")
    def check_batch_members(self, batch_id: int) -> Counts:
        """System validation, set-based: retired or deceased, an expired ID, incomplete data for
        the special channel, a special-channel member in the normal channel."""
        after = ""
        with self.db.connect() as conn:
            while True:  # chunks of CHECK_CHUNK members, each its own short transaction
                with conn.transaction():
                    row = conn.execute(
                        _CHECK_SQL, {"today": self._today(), "batch": batch_id, "after": after, "n": CHECK_CHUNK}
                    ).fetchone()
                activity.heartbeat(after)
                if row is None or row[0] is None:
                    break
                after = str(row[0])
            with conn.transaction():
                counts = batch_counts(conn, batch_id)
                _project_counts(conn, batch_id, counts)
                return counts

    @activity.defn(name="assign_batch_number")
    def assign_batch_number(self, batch_id: int) -> str:
        """Batch number: district code, date, and the day's sequence in the district (kept on retry)."""
        with self.db.connect() as conn, conn.transaction():
            row = conn.execute(
                "SELECT batch_no, district_code FROM card_batches WHERE id = %s FOR UPDATE", (batch_id,)
            ).fetchone()
            row = found(row, "card_batches")
            if row[0]:
                return str(row[0])
            day = self._today().strftime("%Y%m%d")
            seq = conn.execute(
                """INSERT INTO batch_number_counters (district_code, day, next_value) VALUES (%s, %s, 2)
                   ON CONFLICT (district_code, day) DO UPDATE SET next_value = batch_number_counters.next_value + 1
                   RETURNING next_value - 1""",
                (row[1], day),
            ).fetchone()
            assert seq is not None
            batch_no = f"{row[1]}{day}{seq[0]:04d}"
            conn.execute(
                "UPDATE card_batches SET batch_no = %s, submitted_at = now() WHERE id = %s", (batch_no, batch_id)
            )
        self.metrics.batches_submitted.inc()  # committed; a retry finds the number and counts nothing
        return batch_no

    @activity.defn(name="release_batch_members")
    def release_batch_members(self, batch_id: int) -> int:
        """Cancelled or revoked: members without a card are free to be batched again."""
        with self.db.connect() as conn, conn.transaction():
            return conn.execute(RELEASE_MEMBERS_SQL, (batch_id,)).rowcount

    @activity.defn(name="apply_bank_files")
    def apply_bank_files(self, inp: ApplyFiles) -> Counts:
        """Stored bank result files, set-based and idempotent: a member's first outcome wins, a
        card number is created once, rejected members are released; each file is audited once."""
        cards_issued = 0
        with self.db.connect() as conn, conn.transaction():
            for event_id in inp.event_ids:
                row = conn.execute(
                    "SELECT body, applied_at FROM bank_callbacks WHERE event_id = %s FOR UPDATE", (event_id,)
                ).fetchone()
                if row is None:
                    raise ApplicationError("银行回调未保存", type="callback_missing", non_retryable=True)
                if row[1] is not None:
                    continue
                results = row[0].get("results", [])
                cards_issued += self._apply_results(conn, inp.batch_id, results)
                conn.execute("UPDATE bank_callbacks SET applied_at = now() WHERE event_id = %s", (event_id,))
                issued = sum(1 for r in results if r.get("card_no"))
                _audit(
                    conn,
                    inp.batch_id,
                    "card_batch.bank_file",
                    (None, None),
                    (None, "bank"),
                    f"银行反馈文件 {row[0].get('file_no')}/{row[0].get('files')}：成功{issued}人，"
                    f"失败{len(results) - issued}人",
                )
            counts = batch_counts(conn, inp.batch_id)
            _project_counts(conn, inp.batch_id, counts)
        self.metrics.cards_issued.inc(cards_issued)
        return counts

    @staticmethod
    def _apply_results(conn: psycopg.Connection, batch_id: int, results: list[dict[str, Any]]) -> int:
        """Apply one file's results; the number of members whose card was issued now."""
        rows = [(r.get("member_no"), r.get("card_no"), r.get("reason")) for r in results]
        conn.execute("DROP TABLE IF EXISTS bank_results")
        conn.execute("CREATE TEMP TABLE bank_results (member_no text, card_no text, reason text) ON COMMIT DROP")
        with conn.cursor().copy("COPY bank_results FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        decided = conn.execute(
            """WITH decided AS (
                 UPDATE card_batch_members bm
                 SET outcome = CASE WHEN r.card_no IS NOT NULL THEN 'issued' ELSE 'rejected' END,
                     card_no = r.card_no, reject_reason = r.reason, feedback_at = now()
                 FROM bank_results r
                 WHERE bm.batch_id = %s AND bm.member_no = r.member_no AND bm.outcome IS NULL
                 RETURNING bm.member_no, bm.card_no, bm.outcome),
               carded AS (
                 INSERT INTO cards (card_no, member_no, batch_id, status, issued_at)
                 SELECT card_no, member_no, %s, 'issued', now() FROM decided WHERE outcome = 'issued'
                 ON CONFLICT (card_no) DO NOTHING RETURNING member_no)
               UPDATE members m
               SET card_status = CASE WHEN d.outcome = 'issued' THEN 'issued' ELSE 'none' END,
                   card_no = CASE WHEN d.outcome = 'issued' THEN d.card_no ELSE m.card_no END, updated_at = now()
               FROM decided d WHERE m.member_no = d.member_no
               RETURNING d.outcome""",
            (batch_id, batch_id),
        ).fetchall()
        return sum(1 for (outcome,) in decided if outcome == "issued")

    @activity.defn(name="record_transition")
    def record_transition(self, t: Transition) -> None:
        """Project the batch's status and append the audit row of the transition."""
        with self.db.connect() as conn, conn.transaction():
            conn.execute(
                """UPDATE card_batches SET status = %s, updated_at = now(),
                          overdue = CASE WHEN %s::boolean IS NULL THEN overdue ELSE %s::boolean END
                   WHERE id = %s""",
                (t.to_status, t.overdue, t.overdue, t.batch_id),
            )
            _audit(
                conn,
                t.batch_id,
                f"card_batch.{t.event}",
                (t.from_status, t.to_status),
                (t.actor_id, t.actor_name),
                t.reason or "",
                t.step_no or None,
            )


def _audit(
    conn: psycopg.Connection,
    batch_id: int,
    action: str,
    states: tuple[str | None, str | None],
    actor: tuple[int | None, str],
    summary: str,
    step_no: int | None = None,
) -> None:
    """A numbered transition's row (``step_no``: the step the batch's view shows) is written once."""
    conn.execute(
        """INSERT INTO audit_events (at, actor_id, actor_name, org_id, action, entity_type, entity_id,
                                     from_state, to_state, summary, step_no)
           SELECT %s, %s, %s, org_id, %s, 'card_batch', %s, %s, %s, %s, %s FROM card_batches WHERE id = %s
           ON CONFLICT (entity_type, entity_id, step_no) WHERE step_no IS NOT NULL DO NOTHING""",
        (
            datetime.now(UTC), actor[0], actor[1], action, str(batch_id), states[0], states[1], storable(summary)[:500],
            step_no, batch_id,
        ),
    )  # fmt: skip
