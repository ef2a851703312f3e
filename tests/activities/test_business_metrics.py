"""The worker's business counters count each event once, however often its activity runs (a
retry after a lost worker, a local activity run again on replay)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from psycopg.types.json import Json
from temporalio.testing import ActivityEnvironment

from activities.card_batch import CardBatchActivities
from activities.lifecycle import LifecycleActivities
from core.db import Database
from core.metrics import BusinessMetrics
from core.settings import Settings
from documents.fake_members import member_rows, write_csv
from models.card_batch import CardBatch
from models.enrollment import Enrollment
from models.states import CardChannel, EnrollmentKind, EnrollmentStatus
from tests.api.helpers import imported
from tests.enrollment_setup import fresh_union
from tests.workflows.conftest import user
from tests.workflows.test_claim_timers import stage_claim
from workflows.card_batch import ApplyFiles
from workflows.common import ActorRef, Step


def sample(metrics: BusinessMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    assert value is not None, (name, labels)
    return value


async def union_with_members(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, seed: int
) -> tuple[ActorRef, list[str]]:
    """A fresh union of district 101 with three imported members: (its clerk, member numbers). The
    phones depend on ``seed % 100``: each caller's seed must differ there."""
    org, token = await fresh_union(api, tokens, "101")
    rows = list(member_rows(3, seed=seed, phone_base=19_000_000_000))
    body = await imported(api, token, org, write_csv(tmp_path / "m.csv", rows))
    with db.connect() as conn:
        found = conn.execute(
            "SELECT member_no FROM members WHERE source_import_id = %s ORDER BY member_no", (body["id"],)
        ).fetchall()
    assert len(found) == 3
    return user(db, "clerk", org), [r[0] for r in found]


def _org_id(db: Database, code: str) -> int:
    with db.connect() as conn:
        row = conn.execute("SELECT id FROM organisations WHERE code = %s", (code,)).fetchone()
    assert row is not None
    return int(row[0])


def audit_count(db: Database, entity: str, key: int, action: str) -> int:
    with db.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM audit_events WHERE entity_type = %s AND entity_id = %s AND action = %s",
            (entity, str(key), action),
        ).fetchone()
    assert row is not None
    return int(row[0])


async def test_a_paid_claim_counts_once_when_its_projection_runs_twice(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    clerk, nos = await union_with_members(api, tokens, db, tmp_path, seed=9301)
    claim_id = stage_claim(db, nos[0], "critical_illness", clerk)
    with db.connect() as conn:
        conn.execute("UPDATE claims SET status = 'payout_pending', amount_fen = 1000000 WHERE id = %s", (claim_id,))
        conn.commit()
    metrics = BusinessMetrics()
    lifecycle = LifecycleActivities(db, metrics)
    paid = Step("claim", str(claim_id), "paid", "payout_pending", "paid", None, "bank", step_no=9)
    env = ActivityEnvironment()
    env.run(lifecycle.project_step, paid)
    env.run(lifecycle.project_step, paid)  # run again, as after a lost worker
    assert sample(metrics, "unioncard_claims_paid_total", kind="critical_illness") == 1
    assert sample(metrics, "unioncard_claims_paid_amount_fen_total", kind="critical_illness") == 1_000_000
    assert sample(metrics, "unioncard_claims_paid_total", kind="accidental_death") == 0
    assert audit_count(db, "claim", claim_id, "claim.paid") == 1
    # A later step of the same claim that leaves it paid counts nothing.
    env.run(lifecycle.project_step, Step("claim", str(claim_id), "note", "paid", "paid", None, "bank", step_no=10))
    assert sample(metrics, "unioncard_claims_paid_total", kind="critical_illness") == 1
    with db.connect() as conn:
        assert conn.execute("SELECT status FROM claims WHERE id = %s", (claim_id,)).fetchone() == ("paid",)


async def test_an_unpaid_enrollment_counts_once(api: httpx.AsyncClient, tokens: dict[str, str], db: Database) -> None:
    org, _ = await fresh_union(api, tokens, "101")
    clerk = user(db, "clerk", org)
    with db.session() as session:
        row = Enrollment(
            org_id=_org_id(db, org),
            year=2099,
            kind=EnrollmentKind.REGULAR,
            status=EnrollmentStatus.APPROVED,
            district_code="101",
            workflow_id=f"enrollment-{org}-2099",
            created_by=clerk.user_id,
        )
        session.add(row)
        session.commit()
        enrollment_id = row.id or 0
    metrics = BusinessMetrics()
    lifecycle = LifecycleActivities(db, metrics)
    failed = Step("enrollment", str(enrollment_id), "fail_unpaid", "approved", "failed_unpaid", None, "system")
    failed.step_no = 6
    for _ in range(3):
        ActivityEnvironment().run(lifecycle.project_step, failed)
    assert sample(metrics, "unioncard_enrollments_failed_unpaid_total") == 1
    assert sample(metrics, "unioncard_claims_paid_total", kind="critical_illness") == 0
    assert audit_count(db, "enrollment", enrollment_id, "enrollment.fail_unpaid") == 1


async def test_a_submitted_batch_and_its_cards_count_once(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, settings: Settings, tmp_path: Path
) -> None:
    clerk, nos = await union_with_members(api, tokens, db, tmp_path, seed=9302)
    with db.session() as session:
        batch = CardBatch(
            org_id=_org_id(db, clerk.org_code),
            district_code="101",
            channel=CardChannel.NORMAL,
            bank_branch="工行人民广场支行",
            workflow_id="",
            created_by=clerk.user_id,
        )
        session.add(batch)
        session.commit()
        batch_id = batch.id or 0
    cards = [f"62229{uuid.uuid4().int % 10**14:014d}" for _ in nos[:2]]
    results = [{"member_no": no, "card_no": card, "reason": None} for no, card in zip(nos, cards, strict=False)]
    results.append({"member_no": nos[2], "card_no": None, "reason": "证件信息有误"})
    event_id = f"metrics-{uuid.uuid4().hex[:8]}"
    with db.connect() as conn:
        for no in nos:
            conn.execute(
                """INSERT INTO card_batch_members (batch_id, member_no, "check") VALUES (%s, %s, 'passed')""",
                (batch_id, no),
            )
        conn.execute(
            "INSERT INTO bank_callbacks (event_id, kind, body, received_at) VALUES (%s, 'batch.result', %s, now())",
            (event_id, Json({"results": results, "file_no": 1, "files": 1})),
        )
        conn.commit()
    metrics = BusinessMetrics()
    batches = CardBatchActivities(db, settings, metrics)
    env = ActivityEnvironment()
    first = env.run(batches.assign_batch_number, batch_id)
    assert env.run(batches.assign_batch_number, batch_id) == first  # the retry keeps the number
    assert sample(metrics, "unioncard_card_batches_submitted_total") == 1
    counts = env.run(batches.apply_bank_files, ApplyFiles(batch_id, [event_id]))
    assert (counts.issued, counts.rejected) == (2, 1)
    env.run(batches.apply_bank_files, ApplyFiles(batch_id, [event_id]))  # the same file again
    assert sample(metrics, "unioncard_cards_issued_total") == 2
