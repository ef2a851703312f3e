"""Enrollment activities: the roster as set-based SQL, fees from the configuration, payments,
coverage, the district's filing, and the fan-out of the filing's outcome to its enrollments."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

import psycopg
from psycopg.types.json import Json
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.failures import found
from activities.projection import audit_row
from core.db import Database
from core.programme import district_split, read_config, registration_windows
from core.settings import Settings
from models.enrollment import FeeLine
from models.programme import ProgrammeYearConfig
from rules.calendar import today
from rules.card_validity import VALID_CARD_SQL, validity_params, validity_terms
from rules.fees import split_fee, to_fen
from workflows.district_filing import FilingTotals
from workflows.enrollment import (
    Coverage,
    Fee,
    PriceRequest,
    RecordPayment,
    RosterCounts,
    RosterEdit,
    RosterEditResult,
    TransferCheck,
)

# Every member of the union with the roster's verdict. Confirmations and removals by the clerk
# survive a rebuild unless the member has since become ineligible.
_ROSTER_SQL = """
    WITH e AS (SELECT id, org_id, year, kind FROM enrollments WHERE id = %(id)s),
    verdict AS (
      SELECT e.id AS enrollment_id, m.member_no,
        CASE WHEN m.employment_status = 'deceased' THEN 'deceased'
             WHEN m.employment_status = 'retired'
                  AND (m.retirement_date IS NULL OR m.retirement_date < %(coverage_start)s) THEN 'retired'
             WHEN m.card_no IS NULL OR m.card_status NOT IN ('issued', 'activated', 'registered', 'lost')
                  OR NOT {valid} THEN 'no_card'
             WHEN NOT m.social_insured THEN 'awaiting'
             ELSE 'enrolled' END AS category
      FROM members m JOIN e ON m.org_id = e.org_id
      WHERE e.kind = 'regular' OR NOT EXISTS (
        SELECT 1 FROM enrollment_members x JOIN enrollments y ON y.id = x.enrollment_id
        WHERE x.member_no = m.member_no AND y.year = e.year AND y.id <> e.id AND x.category = 'enrolled'
          AND y.status NOT IN ('failed_unpaid', 'cancelled')))
    INSERT INTO enrollment_members (enrollment_id, member_no, category, confirmed)
    SELECT enrollment_id, member_no, category, false FROM verdict
    ON CONFLICT (enrollment_id, member_no) DO UPDATE SET category = CASE
        WHEN EXCLUDED.category IN ('deceased', 'retired', 'no_card') THEN EXCLUDED.category
        WHEN enrollment_members.category = 'removed' THEN 'removed'
        WHEN enrollment_members.confirmed THEN 'enrolled'
        ELSE EXCLUDED.category END""".replace("{valid}", VALID_CARD_SQL.format(card="m.card_no", member="m.member_no"))

# Each enrolled member's protection type by the card's day: the first period whose last day is not
# before it (the last period has none); members not enrolled have none.
_TYPE_BY_CARD_SQL = """
    UPDATE enrollment_members x SET protection_type = CASE WHEN x.category = 'enrolled' THEN (
        SELECT p.code FROM unnest(%(codes)s::text[], %(untils)s::date[]) WITH ORDINALITY AS p(code, until, n)
        WHERE p.until IS NULL OR p.until >= greatest(
            (SELECT (min(c.issued_at) AT TIME ZONE %(tz)s)::date FROM cards c WHERE c.member_no = x.member_no),
            (SELECT (min(r.registered_at) AT TIME ZONE %(tz)s)::date FROM card_registrations r
             WHERE r.member_no = x.member_no AND r.year = %(year)s))
        ORDER BY p.n LIMIT 1) END
    WHERE x.enrollment_id = %(id)s"""

_COUNTS_SQL = """
    SELECT count(*), count(*) FILTER (WHERE category = 'enrolled'), count(*) FILTER (WHERE category = 'awaiting'),
           count(*) FILTER (WHERE category = 'no_card'), count(*) FILTER (WHERE category = 'retired'),
           count(*) FILTER (WHERE category = 'deceased'), count(*) FILTER (WHERE category = 'removed')
    FROM enrollment_members WHERE enrollment_id = %s"""


def roster_counts(conn: psycopg.Connection, enrollment_id: int) -> RosterCounts:
    row = conn.execute(_COUNTS_SQL, (enrollment_id,)).fetchone()
    assert row is not None
    counts = RosterCounts(*row)
    conn.execute(
        """UPDATE enrollments SET members_total = %s, enrolled = %s, awaiting_confirmation = %s, no_card = %s,
                  retired = %s, deceased = %s, removed = %s, updated_at = now() WHERE id = %s""",
        (*row, enrollment_id),
    )
    return counts


class EnrollmentActivities:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def _config(self, conn: psycopg.Connection, year: int) -> ProgrammeYearConfig:
        config = read_config(conn, year)
        if config is None:
            raise ApplicationError(f"{year}年度的参保计划尚未配置", type="programme_year_missing", non_retryable=True)
        return config

    def _enrollment(self, conn: psycopg.Connection, enrollment_id: int) -> tuple[int, int, str, str, str | None]:
        row = conn.execute(
            "SELECT org_id, year, district_code, kind, protection_type FROM enrollments WHERE id = %s FOR UPDATE",
            (enrollment_id,),
        ).fetchone()
        row = found(row, "enrollments")
        return row[0], row[1], row[2], row[3], row[4]

    @activity.defn(name="build_roster")
    def build_roster(self, enrollment_id: int) -> RosterCounts:
        with self.db.connect() as conn, conn.transaction():
            org_id, year, *_ = self._enrollment(conn, enrollment_id)
            config = self._config(conn, year)
            conn.execute(
                """DELETE FROM enrollment_members x WHERE x.enrollment_id = %s AND NOT EXISTS (
                     SELECT 1 FROM members m JOIN enrollments e ON e.org_id = m.org_id
                     WHERE e.id = x.enrollment_id AND m.member_no = x.member_no)""",
                (enrollment_id,),
            )
            # a member holds a card when it is valid on the day the roster is drawn (rules.card_validity)
            terms = validity_terms(today(self.settings.timezone), registration_windows(conn, org_id))
            params = {"id": enrollment_id, "coverage_start": config.coverage.start}
            conn.execute(_ROSTER_SQL, {**params, **validity_params(terms, self.settings.timezone)})
            return roster_counts(conn, enrollment_id)

    @activity.defn(name="edit_roster")
    def edit_roster(self, edit: RosterEdit) -> RosterEditResult:
        """Confirm members awaiting confirmation, or take unconfirmed members off the roster;
        all or nothing: members who cannot be are named and nothing changes."""
        with self.db.connect() as conn, conn.transaction():
            row = conn.execute(
                "SELECT items, everything FROM member_selections WHERE id = %s", (edit.selection_id,)
            ).fetchone()
            row = found(row, "member_selections")
            items, everything = list(row[0]), bool(row[1])
            if edit.action == "confirm":
                ok = "x.category = 'awaiting' OR (x.category = 'enrolled' AND x.confirmed)"
                change = "category = 'enrolled', confirmed = true"
                todo = "x.category = 'awaiting'"
            else:
                ok = "x.category IN ('enrolled', 'awaiting') AND NOT x.confirmed"
                change = "category = 'removed'"
                todo = ok
            if not everything:
                refused = conn.execute(
                    f"""SELECT n FROM unnest(%s::text[]) AS n WHERE NOT EXISTS (
                          SELECT 1 FROM enrollment_members x WHERE x.enrollment_id = %s AND x.member_no = n
                          AND ({ok}))""",
                    (items, edit.enrollment_id),
                ).fetchall()
                if refused:  # nothing changes; the staged selection is not needed any more
                    conn.execute("DELETE FROM member_selections WHERE id = %s", (edit.selection_id,))
                    return RosterEditResult(refused=sorted(r[0] for r in refused))
            chosen = "" if everything else "AND x.member_no = ANY(%s)"
            args = (edit.enrollment_id,) if everything else (edit.enrollment_id, items)
            changed = conn.execute(
                f"UPDATE enrollment_members x SET {change} WHERE x.enrollment_id = %s AND ({todo}) {chosen}", args
            ).rowcount
            conn.execute("DELETE FROM member_selections WHERE id = %s", (edit.selection_id,))
            return RosterEditResult(changed=changed, counts=roster_counts(conn, edit.enrollment_id))

    @activity.defn(name="price_enrollment")
    def price_enrollment(self, req: PriceRequest) -> Fee:
        """The fee for the roster's enrolled members and its split by the district's ratios: at the
        clerk's protection type, or, when the year's types follow each member's card, per member."""
        with self.db.connect() as conn, conn.transaction():
            org_id, year, district_code, _, _ = self._enrollment(conn, req.enrollment_id)
            config = self._config(conn, year)
            members = roster_counts(conn, req.enrollment_id).enrolled
            if config.types_by_card is not None:
                lines = self._types_by_card(conn, req.enrollment_id, year, config)
                chosen_type = None
            else:
                chosen_type = self._chosen_type(conn, org_id, year, req, config)
                lines = [FeeLine(chosen_type, members, to_fen(self._price(config, chosen_type)) * members)]
            total = sum(line.total_fen for line in lines)
            city, district, grassroots = split_fee(total, district_split(conn, config, district_code, year))
            conn.execute(
                """UPDATE enrollments SET protection_type = %s, fee_lines = %s, total_fen = %s, city_fen = %s,
                          district_fen = %s, grassroots_fen = %s, submitted_at = now() WHERE id = %s""",
                (chosen_type, Json([line.as_json() for line in lines]), total, city, district, grassroots,
                 req.enrollment_id),
            )  # fmt: skip
            return Fee(chosen_type or "", members, total, city, district, grassroots)

    @staticmethod
    def _price(config: ProgrammeYearConfig, code: str) -> Decimal:
        protection = config.protection(code)
        assert protection is not None  # checked by _chosen_type or by the configuration's validator
        return protection.price

    def _chosen_type(
        self, conn: psycopg.Connection, org_id: int, year: int, req: PriceRequest, config: ProgrammeYearConfig
    ) -> str:
        """The clerk's protection type, the same for every enrollment of the union in the year."""
        if config.protection(req.protection_type) is None:
            raise ApplicationError(
                f"保障类型 {req.protection_type} 不在{year}年度计划中", type="unknown_protection_type",
                non_retryable=True,
            )  # fmt: skip
        chosen = conn.execute(
            """SELECT protection_type FROM enrollments WHERE org_id = %s AND year = %s AND id <> %s
               AND protection_type IS NOT NULL AND status NOT IN ('cancelled', 'draft') LIMIT 1""",
            (org_id, year, req.enrollment_id),
        ).fetchone()
        if chosen and chosen[0] != req.protection_type:
            raise ApplicationError(
                f"同一保障年度只能选择一个保障类型（本年度已选 {chosen[0]}）", type="protection_type_fixed",
                non_retryable=True,
            )  # fmt: skip
        return req.protection_type

    def _types_by_card(
        self, conn: psycopg.Connection, enrollment_id: int, year: int, config: ProgrammeYearConfig
    ) -> list[FeeLine]:
        """Each enrolled member's type by their card's day (the later of its first issue and its
        registration for the year, in the programme's time zone), in one statement; the fee per type."""
        periods = config.types_by_card or []
        conn.execute(
            _TYPE_BY_CARD_SQL,
            {
                "id": enrollment_id,
                "year": year,
                "tz": self.settings.timezone,
                "codes": [p.protection_type for p in periods],
                "untils": [p.cards_until for p in periods],
            },
        )
        counts: dict[str | None, int] = dict(
            conn.execute(
                """SELECT protection_type, count(*) FROM enrollment_members
                   WHERE enrollment_id = %s AND category = 'enrolled' GROUP BY protection_type""",
                (enrollment_id,),
            ).fetchall()
        )
        lines = []
        for period in periods:
            n = int(counts.get(period.protection_type, 0))
            lines.append(FeeLine(period.protection_type, n, to_fen(self._price(config, period.protection_type)) * n))
        return lines

    @activity.defn(name="record_payment")
    def record_payment(self, payment: RecordPayment) -> str:
        with self.db.connect() as conn, conn.transaction():
            conn.execute(
                """UPDATE enrollments SET paid_fen = %s, payment_ref = %s, paid_at = coalesce(paid_at, now())
                   WHERE id = %s""",
                (payment.amount_fen, payment.reference[:80], payment.enrollment_id),
            )
            if payment.transfer_event_id:
                conn.execute(
                    "UPDATE bank_callbacks SET applied_at = now() WHERE event_id = %s", (payment.transfer_event_id,)
                )
            return payment.reference

    @activity.defn(name="check_transfer")
    def check_transfer(self, check: TransferCheck) -> int:
        """The amount of a stored bank transfer in fen (-1 when unreadable); a wrong amount is audited."""
        with self.db.connect() as conn, conn.transaction():
            row = conn.execute("SELECT body FROM bank_callbacks WHERE event_id = %s", (check.event_id,)).fetchone()
            if row is None:
                raise ApplicationError("银行回调未保存", type="callback_missing", non_retryable=True)
            try:
                amount = to_fen(Decimal(str(row[0].get("amount"))))
            except (InvalidOperation, ValueError):
                amount = -1
            if amount != check.expected_fen:
                audit_row(
                    conn,
                    "enrollment",
                    str(check.enrollment_id),
                    "enrollment.transfer_refused",
                    (None, None),
                    (None, "bank"),
                    f"银行转账金额 {row[0].get('amount')} 元与应缴金额 {check.expected_fen / 100:.2f} 元不符，未登记",
                )
                conn.execute("UPDATE bank_callbacks SET applied_at = now() WHERE event_id = %s", (check.event_id,))
            return amount

    @activity.defn(name="stored_transfers")
    def stored_transfers(self, workflow_id: str) -> list[str]:
        """Transfers for the enrollment ``workflow_id`` stored before its workflow ran, not yet applied."""
        with self.db.connect() as conn:
            rows = conn.execute(
                """SELECT event_id FROM bank_callbacks WHERE kind = 'transfer.received'
                   AND body->>'reference' = %s AND applied_at IS NULL ORDER BY received_at, event_id""",
                (workflow_id,),
            )
            return [str(r[0]) for r in rows]

    @activity.defn(name="set_coverage")
    def set_coverage(self, coverage: Coverage) -> str:
        """Regular: each protection type's coverage; instant: from the day after enrollment to its
        end. Members whose type follows their card take their type's coverage."""
        with self.db.connect() as conn, conn.transaction():
            _, year, _, _, protection_type = self._enrollment(conn, coverage.enrollment_id)
            config = self._config(conn, year)
            row = conn.execute("SELECT fee_lines FROM enrollments WHERE id = %s", (coverage.enrollment_id,)).fetchone()
            stored = row[0] if row and row[0] is not None else None
            lines = [FeeLine.from_json(d) for d in stored] if stored is not None else []
            codes = [line.code for line in lines] or [protection_type or ""]
            tomorrow = today(self.settings.timezone) + timedelta(days=1)
            periods: dict[str, tuple[date, date]] = {}
            for code in codes:
                window = config.coverage_of(code)
                periods[code] = (max(window.start, tomorrow) if coverage.instant else window.start, window.end)
            if config.types_by_card is not None:
                for code, (start, end) in periods.items():
                    conn.execute(
                        """UPDATE enrollment_members SET coverage_start = %s, coverage_end = %s
                           WHERE enrollment_id = %s AND protection_type = %s""",
                        (start, end, coverage.enrollment_id, code),
                    )
            if lines:
                lines = [replace(line, coverage_start=periods[line.code][0], coverage_end=periods[line.code][1])
                         for line in lines]  # fmt: skip
                conn.execute(
                    "UPDATE enrollments SET fee_lines = %s WHERE id = %s",
                    (Json([line.as_json() for line in lines]), coverage.enrollment_id),
                )
            used = [periods[line.code] for line in lines if line.members] or list(periods.values())
            start, end = min(p[0] for p in used), max(p[1] for p in used)
            conn.execute(
                "UPDATE enrollments SET coverage_start = %s, coverage_end = %s WHERE id = %s",
                (start, end, coverage.enrollment_id),
            )
            return f"{start.isoformat()}/{end.isoformat()}"

    @activity.defn(name="file_enrollments")
    def file_enrollments(self, filing_id: int) -> FilingTotals:
        """Every paid regular enrollment of the district and year joins the filing (kept on retry)."""
        with self.db.connect() as conn, conn.transaction():
            conn.execute(
                """UPDATE enrollments e SET filing_id = f.id FROM district_filings f
                   WHERE f.id = %s AND e.district_code = f.district_code AND e.year = f.year
                     AND e.kind = 'regular' AND e.status = 'paid' AND e.filing_id IS NULL""",
                (filing_id,),
            )
            row = conn.execute(
                "SELECT count(*), coalesce(sum(enrolled), 0), coalesce(sum(total_fen), 0) FROM enrollments"
                " WHERE filing_id = %s",
                (filing_id,),
            ).fetchone()
            assert row is not None
            conn.execute(
                """UPDATE district_filings SET enrollments = %s, members = %s, total_fen = %s,
                          submitted_at = coalesce(submitted_at, now()) WHERE id = %s""",
                (*row, filing_id),
            )
            return FilingTotals(int(row[0]), int(row[1]), int(row[2]))
