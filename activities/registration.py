"""Registration activities: registering cards and lapsing the unregistered, set-based and in
chunks of members; and the yearly opener, which starts every union's registration workflow."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date, timedelta

import psycopg
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.failures import found
from core.db import Database
from core.programme import read_config, registration_windows
from core.settings import Settings
from models.programme import DateWindow
from rules.calendar import bounds
from rules.card_validity import VALID_CARD_SQL, validity_params, validity_terms, window_of
from workflows.dated_inputs import OpenRegistrations, RegistrationInput
from workflows.registration import (
    RegisterCards,
    RegisterResult,
    RegistrationCounts,
    RegistrationWorkflow,
    registration_workflow_id,
)

CHUNK = 2000
REGISTRABLE = "('issued', 'activated', 'registered', 'lapsed')"
_CARD_WORK = "o.level = 'grassroots' AND coalesce(o.grassroots_type, '') NOT IN ('federation', 'branch')"

# The cards to register: a chunk of the union's members (keyset on member number), or the chosen cards.
_EVERY_CARD = f"""
    picked AS (SELECT member_no FROM members WHERE org_id = %(org)s AND member_no > %(after)s
               ORDER BY member_no LIMIT %(n)s),
    chunk AS (SELECT c.card_no, c.member_no FROM picked JOIN cards c ON c.member_no = picked.member_no
              WHERE c.status IN {REGISTRABLE})"""
_CHOSEN_CARDS = f"""
    picked AS (SELECT NULL::text AS member_no),
    chunk AS (SELECT c.card_no, c.member_no FROM cards c JOIN members m ON m.member_no = c.member_no
              WHERE c.card_no = ANY(%(cards)s) AND m.org_id = %(org)s AND c.status IN {REGISTRABLE})"""
_REGISTER_SQL = """
    WITH {chosen},
    added AS (INSERT INTO card_registrations (card_no, year, member_no, registered_by, registered_at)
              SELECT card_no, %(year)s, member_no, %(actor)s, now() FROM chunk
              ON CONFLICT (card_no, year) DO NOTHING RETURNING card_no),
    carded AS (UPDATE cards c SET status = 'registered' FROM chunk
               WHERE c.card_no = chunk.card_no AND c.status <> 'registered'),
    membered AS (UPDATE members m SET card_status = 'registered', updated_at = now() FROM chunk
                 WHERE m.member_no = chunk.member_no AND m.card_no = chunk.card_no AND m.card_status <> 'registered')
    SELECT (SELECT max(member_no) FROM picked), (SELECT count(*) FROM added)"""
# At the window's end: a chunk of the union's members whose valid card has no registration for the year.
_LAPSE_SQL = """
    WITH picked AS (SELECT member_no FROM members WHERE org_id = %(org)s AND member_no > %(after)s
                    ORDER BY member_no LIMIT %(n)s),
    lapsed AS (UPDATE cards c SET status = 'lapsed' FROM picked
               WHERE c.member_no = picked.member_no AND c.status IN ('issued', 'activated', 'registered')
                 AND NOT {valid}
               RETURNING c.card_no, c.member_no),
    membered AS (UPDATE members m SET card_status = 'lapsed', updated_at = now() FROM lapsed
                 WHERE m.member_no = lapsed.member_no AND m.card_no = lapsed.card_no)
    SELECT max(member_no) FROM picked"""
_LAPSE_SQL = _LAPSE_SQL.replace("{valid}", VALID_CARD_SQL.format(card="c.card_no", member="c.member_no"))
_REGISTERED_SQL = """
    SELECT count(DISTINCT r.member_no) FROM card_registrations r JOIN members m ON m.member_no = r.member_no
    WHERE m.org_id = %s AND r.year = %s"""
_LAPSED_SQL = """
    SELECT count(*) FROM members m JOIN cards c ON c.card_no = m.card_no
    WHERE m.org_id = %s AND c.status = 'lapsed'"""


def _registration(conn: psycopg.Connection, registration_id: int) -> tuple[int, int]:
    row = conn.execute("SELECT org_id, year FROM registrations WHERE id = %s", (registration_id,)).fetchone()
    row = found(row, "registrations")
    return int(row[0]), int(row[1])


def _selection(conn: psycopg.Connection, selection_id: int) -> tuple[list[str], bool]:
    row = conn.execute(
        "SELECT items, everything FROM member_selections WHERE id = %s AND purpose = 'register'", (selection_id,)
    ).fetchone()
    row = found(row, "member_selections")
    return [str(c) for c in row[0]], bool(row[1])


def _unregistrable(conn: psycopg.Connection, org_id: int, cards: list[str]) -> list[str]:
    """The chosen cards that are unknown, of another union, lost or replaced."""
    rows = conn.execute(
        f"""SELECT DISTINCT n FROM unnest(%s::text[]) AS n WHERE NOT EXISTS (
              SELECT 1 FROM cards c JOIN members m ON m.member_no = c.member_no
              WHERE c.card_no = n AND m.org_id = %s AND c.status IN {REGISTRABLE}) ORDER BY n""",
        (cards, org_id),
    ).fetchall()
    return [str(r[0]) for r in rows]


def _count(conn: psycopg.Connection, sql: str, *args: object) -> int:
    row = conn.execute(sql, args).fetchone()
    return int(row[0]) if row else 0


class RegistrationActivities:
    def __init__(self, db: Database, settings: Settings, client: Client) -> None:
        self.db = db
        self.settings = settings
        self.client = client  # the opener starts workflows

    @activity.defn(name="register_cards")
    def register_cards(self, inp: RegisterCards) -> RegisterResult:
        """Register the staged cards (all or nothing: unknown cards, another union's, lost or replaced
        ones are named and nothing changes), or every registrable card of the union. Idempotent."""
        with self.db.connect() as conn:
            with conn.transaction():
                org_id, year = _registration(conn, inp.registration_id)
                cards, everything = _selection(conn, inp.selection_id)
                refused = [] if everything else _unregistrable(conn, org_id, cards)
                if refused:  # found before any change: nothing to undo
                    conn.execute("DELETE FROM member_selections WHERE id = %s", (inp.selection_id,))
            if refused:
                return RegisterResult(refused=refused[:200], refused_count=len(refused))
            sql = _REGISTER_SQL.format(chosen=_EVERY_CARD if everything else _CHOSEN_CARDS)
            params: dict[str, object] = {"org": org_id, "year": year, "actor": inp.actor_id, "cards": cards}
            registered, after = 0, ""
            while True:  # chunks of members, each its own transaction (a retry registers nothing twice)
                with conn.transaction():
                    done = conn.execute(sql, {**params, "after": after, "n": CHUNK}).fetchone()
                assert done is not None
                registered += int(done[1])
                activity.heartbeat(after)
                if not everything or done[0] is None:
                    break
                after = str(done[0])
            with conn.transaction():
                members = _count(conn, _REGISTERED_SQL, org_id, year)
                conn.execute(
                    "UPDATE registrations SET registered = %s, updated_at = now() WHERE id = %s",
                    (members, inp.registration_id),
                )
                conn.execute("DELETE FROM member_selections WHERE id = %s", (inp.selection_id,))
            return RegisterResult(registered=registered, registered_members=members)

    @activity.defn(name="lapse_unregistered_cards")
    def lapse_unregistered_cards(self, registration_id: int) -> RegistrationCounts:
        """The window has closed: every valid card of the union without a registration for the year
        lapses (card and member). Idempotent; the counts are projected on the registration."""
        with self.db.connect() as conn:
            with conn.transaction():
                org_id, year = _registration(conn, registration_id)
                windows = registration_windows(conn, org_id)
            # lapsed: the cards not valid on the day after the window closed (rules.card_validity)
            terms = validity_terms(window_of(windows, year).end + timedelta(days=1), windows)
            params = {"org": org_id, "n": CHUNK, **validity_params(terms, self.settings.timezone)}
            after = ""
            while True:
                with conn.transaction():
                    row = conn.execute(_LAPSE_SQL, {**params, "after": after}).fetchone()
                activity.heartbeat(after)
                if row is None or row[0] is None:
                    break
                after = str(row[0])
            with conn.transaction():
                counts = RegistrationCounts(
                    _count(conn, _REGISTERED_SQL, org_id, year), _count(conn, _LAPSED_SQL, org_id)
                )
                conn.execute(
                    "UPDATE registrations SET registered = %s, lapsed = %s, updated_at = now() WHERE id = %s",
                    (counts.registered, counts.lapsed, registration_id),
                )
            return counts

    @activity.defn(name="open_registrations")
    async def open_registrations(self, inp: OpenRegistrations) -> int:
        """Insert the year's registration of every card-work union (unless its window is already
        over) and start each registration not yet closed, at most 20 starts at a time."""
        pending = await asyncio.to_thread(self._prepare_year, inp)
        limit = asyncio.Semaphore(20)

        async def start(registration: RegistrationInput) -> None:
            async with limit:
                with contextlib.suppress(WorkflowAlreadyStartedError):  # running, or done: both fine
                    await self.client.start_workflow(
                        RegistrationWorkflow.run,
                        registration,
                        id=registration_workflow_id(registration.org_code, registration.year),
                        task_queue=self.settings.task_queue,
                        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,  # a closed year is never rerun
                    )
                activity.heartbeat(registration.org_code)

        await asyncio.gather(*(start(r) for r in pending))
        return len(pending)

    def _prepare_year(self, inp: OpenRegistrations) -> list[RegistrationInput]:
        tz = self.settings.timezone
        with self.db.connect() as conn, conn.transaction():
            config = read_config(conn, inp.year)
            window = config.registration(inp.year) if config else _default_window(inp.year)
            if bounds(window, tz)[1] > inp.now:
                conn.execute(
                    f"""INSERT INTO registrations (org_id, year, status, registered, lapsed, opens_on, closes_on,
                                                   workflow_id, updated_at)
                        SELECT o.id, %(year)s, 'scheduled', 0, 0, %(opens)s, %(closes)s,
                               'registration-' || o.code || '-' || %(year)s, now()
                        FROM organisations o WHERE {_CARD_WORK}
                        ON CONFLICT (org_id, year) DO NOTHING""",
                    {"year": inp.year, "opens": window.start.isoformat(), "closes": window.end.isoformat()},
                )
            rows = conn.execute(
                f"""SELECT r.id, o.code, o.path, coalesce(o.district_code, ''), r.opens_on, r.closes_on
                    FROM registrations r JOIN organisations o ON o.id = r.org_id
                    WHERE r.year = %s AND r.status <> 'closed' AND {_CARD_WORK} ORDER BY r.id""",
                (inp.year,),
            ).fetchall()
        out = []
        for reg_id, code, path, district, opens_on, closes_on in rows:
            own = DateWindow(start=date.fromisoformat(opens_on), end=date.fromisoformat(closes_on))
            start, end = bounds(own, tz)
            out.append(RegistrationInput(reg_id, code, path, district, inp.year, start, end, opens_on, closes_on))
        return out


def _default_window(year: int) -> DateWindow:
    """A year without configuration registers in the default window (as ProgrammeYearConfig.registration)."""
    return DateWindow(start=date(year, 5, 1), end=date(year, 6, 30))
