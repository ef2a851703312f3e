"""Writing a checked chunk of an import into the member registry: its new members (copied at
once, or looked up row by row when someone was known), its rejected rows and the import's
checkpoint, in one transaction."""

from __future__ import annotations

import operator
from typing import Any

import psycopg
from psycopg.types.json import Json
from temporalio.exceptions import ApplicationError

from activities.import_chunks import COPY_COLUMNS, CheckedChunk, ChunkJob, read_records
from rules.member_columns import BY_KEY
from rules.member_rows import Problem

MAX_SEQUENCE = 9_999_999


def commit_with_retry(conn: psycopg.Connection, imp: dict[str, Any], job: ChunkJob, chunk: CheckedChunk) -> None:
    """Commit one chunk; a unique violation (a concurrent import took a phone or an ID) rolls
    back and re-checks, so the later import reports the row instead of failing."""
    for attempt in range(3):
        try:
            with conn.transaction():
                # Durable at the slice's end (see import_slice): a crash loses whole chunks,
                # checkpoint included, so they are simply done again.
                conn.execute("SET LOCAL synchronous_commit TO OFF")
                _commit_chunk(conn, imp, job, chunk)
            imp["next_row"] += chunk.spec.count
            imp["next_offset"] = chunk.spec.end
            return
        except psycopg.errors.UniqueViolation:
            if attempt == 2:
                raise


def _commit_chunk(conn: psycopg.Connection, imp: dict[str, Any], job: ChunkJob, chunk: CheckedChunk) -> None:
    """The chunk's new members, rejected rows and checkpoint."""
    inserted, existing, conflicts = _insert_members(conn, imp, chunk)
    problems = chunk.problems + conflicts
    if problems:
        raw = dict(chunk.raw)
        if conflicts:
            records = read_records(job, chunk.spec)
            for row_no, _ in conflicts:
                raw[row_no] = records[row_no - chunk.spec.first_row]
        _write_problems(conn, imp["id"], problems, raw)
    rejected_rows = len({row_no for row_no, _ in problems})
    conn.execute(
        """UPDATE member_imports SET next_row = next_row + %s, next_offset = %s, accepted = accepted + %s,
                  existing = existing + %s, rejected = rejected + %s WHERE id = %s""",
        (chunk.spec.count, chunk.spec.end, inserted, existing, rejected_rows, imp["id"]),
    )


def _insert_members(
    conn: psycopg.Connection, imp: dict[str, Any], chunk: CheckedChunk
) -> tuple[int, int, list[tuple[int, Problem]]]:
    """(inserted, already members, conflicts). Most chunks hold only people the registry does not
    know: their rows are copied at once, in a savepoint, and the unique keys say whether any was
    known. Only when one was (a second import of a file, a repeat, a phone in use) is the chunk
    rolled back to the savepoint and looked up in the registry row by row."""
    try:
        with conn.transaction():
            _copy_members(conn, imp["district_code"], chunk.lines())
        return len(chunk.row_nos), 0, []
    except psycopg.errors.UniqueViolation:
        pass
    to_insert, existing, conflicts = _resolve_conflicts(conn, imp["id"], imp["org_id"], chunk.rows())
    _copy_members(conn, imp["district_code"], [row[3] for row in to_insert])
    return len(to_insert), existing, conflicts


def _copy_members(conn: psycopg.Connection, district: str, lines: list[bytes]) -> None:
    """COPY the rows into the registry with the district's next member numbers, in file order."""
    if not lines:
        return
    first = _allocate_numbers(conn, district, len(lines))
    numbers = [f"{district}{seq:07d}\n".encode() for seq in range(first, first + len(lines))]
    with conn.cursor().copy(f"COPY members ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
        copy.write(b"".join(map(operator.add, lines, numbers)))


def _allocate_numbers(conn: psycopg.Connection, district: str, n: int) -> int:
    """Reserve n member-number sequences for a district; returns the first."""
    row = conn.execute(
        """INSERT INTO member_number_counters (district_code, next_value) VALUES (%s, %s)
           ON CONFLICT (district_code) DO UPDATE SET next_value = member_number_counters.next_value + %s
           RETURNING next_value""",
        (district, n + 1, n),
    ).fetchone()
    assert row is not None
    first = int(row[0]) - n
    if first + n - 1 > MAX_SEQUENCE:
        raise ApplicationError(f"区县{district}的会员编号已用尽", type="member_numbers_exhausted", non_retryable=True)
    return first


def _write_problems(
    conn: psycopg.Connection, import_id: int, problems: list[tuple[int, Problem]], raw: dict[int, list[str]]
) -> None:
    seen: set[int] = set()
    with conn.cursor().copy(
        'COPY import_row_errors (import_id, "row", "column", code, message, raw) FROM STDIN'
    ) as copy:
        for row_no, p in problems:
            cells = None
            if row_no not in seen:
                seen.add(row_no)
                cells = Json({"cells": raw.get(row_no, [])})
            copy.write_row((import_id, row_no, p.column, p.code, p.message, cells))


_ID = BY_KEY["id_number"].header
_PHONE = BY_KEY["phone"].header


Checked = tuple[int, str, str, bytes]  # (row, id number, phone, COPY line)


def _resolve_conflicts(
    conn: psycopg.Connection, import_id: int, org_id: int, rows: list[Checked]
) -> tuple[list[Checked], int, list[tuple[int, Problem]]]:
    """Split valid rows into new members, members already registered, and conflicts.

    Members are keyed by ID number: the same person in the same union again is "existing"
    (importing a file twice adds nothing); in another union, or a phone someone else uses,
    or a repeat inside the file (earlier chunks are already in the registry) is a problem.
    """
    if not rows:
        return [], 0, []
    ids = [row[1] for row in rows]
    phones = [row[2] for row in rows]
    found = conn.execute(
        """SELECT id_number, phone, org_id, source_import_id, source_row FROM members WHERE id_number = ANY(%s)
           UNION ALL
           SELECT id_number, phone, org_id, source_import_id, source_row FROM members WHERE phone = ANY(%s)""",
        (ids, phones),
    ).fetchall()
    by_id = {r[0]: r for r in found}
    by_phone = {r[1]: r for r in found}
    seen_ids: dict[str, int] = {}
    seen_phones: dict[str, int] = {}
    to_insert: list[Checked] = []
    problems: list[tuple[int, Problem]] = []
    existing = 0
    for row in rows:
        row_no, number, phone = row[0], row[1], row[2]
        hit = by_id.get(number)
        if number in seen_ids or (hit and hit[3] == import_id and hit[4] != row_no):
            first = seen_ids.get(number) or (hit[4] if hit else None)
            problems.append((row_no, Problem(_ID, "duplicate_in_file", f"证件号码与第{first}行重复")))
            continue
        if hit is not None:
            if hit[2] == org_id:
                existing += 1
            else:
                union = _org_name(conn, hit[2])
                problems.append((row_no, Problem(_ID, "member_of_other_union", f"该证件号码已是“{union}”的会员")))
            continue
        owner = by_phone.get(phone)
        if phone in seen_phones or (owner and owner[3] == import_id):
            first = seen_phones.get(phone) or (owner[4] if owner else None)
            problems.append((row_no, Problem(_PHONE, "duplicate_in_file", f"手机号码与第{first}行重复")))
            continue
        if owner is not None:
            problems.append((row_no, Problem(_PHONE, "phone_taken", "该手机号码已被其他会员使用")))
            continue
        seen_ids[number] = row_no
        seen_phones[phone] = row_no
        to_insert.append(row)
    return to_insert, existing, problems


def _org_name(conn: psycopg.Connection, org_id: int) -> str:
    row = conn.execute("SELECT name FROM organisations WHERE id = %s", (org_id,)).fetchone()
    return str(row[0]) if row else str(org_id)
