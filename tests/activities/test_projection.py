"""A claim's steps may be written out of order (a reviewer's step by the API and by the workflow
later): a late step never moves the row backwards, each step is written once, and the history
shows them in the order the workflow made them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from activities.projection import project
from core.audit import audit_history
from core.db import Database
from tests.activities.test_business_metrics import union_with_members
from tests.workflows.test_claim_timers import stage_claim
from workflows.common import Step


async def test_a_late_step_never_moves_a_claim_backwards(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    clerk, nos = await union_with_members(api, tokens, db, tmp_path, seed=9303)
    claim_id = stage_claim(db, nos[0], "accidental_disability", clerk)
    made = datetime.now(UTC) - timedelta(minutes=5)
    eligible, grassroots, secondary = (
        Step("claim", str(claim_id), "eligible", "applied", "under_review", None, "system",
             awaiting="grassroots_reviewer", awaiting_org=clerk.org_code, step_no=1, at=made),
        Step("claim", str(claim_id), "approve_level", "under_review", "under_review", clerk.user_id, "审核人",
             awaiting="secondary_reviewer", awaiting_org="101-S01", step_no=2, at=made + timedelta(seconds=1)),
        Step("claim", str(claim_id), "approve_level", "under_review", "under_review", clerk.user_id, "审核人",
             awaiting="district_reviewer", awaiting_org="101", step_no=3, at=made + timedelta(seconds=2)),
    )  # fmt: skip

    def write(step: Step) -> None:
        with db.connect() as conn:
            project(conn, step)

    def row() -> tuple[str, str, int]:
        with db.connect() as conn:
            found = conn.execute("SELECT status, awaiting, last_step FROM claims WHERE id = %s", (claim_id,))
            return found.fetchone()  # type: ignore[return-value]

    write(eligible)
    write(secondary)  # the third step arrives before the second
    assert row() == ("under_review", "district_reviewer", 3)
    write(grassroots)  # late: its audit row is written, the claim stays as the third step left it
    write(grassroots)  # and again, as when the API and the workflow both write it
    write(secondary)
    assert row() == ("under_review", "district_reviewer", 3)
    with db.session() as session:
        history = audit_history(session, "claim", claim_id)
    assert [(e.action, e.step_no) for e in history] == [
        ("claim.eligible", 1),
        ("claim.approve_level", 2),
        ("claim.approve_level", 3),
    ]
    assert [e.at for e in history] == [eligible.at, grassroots.at, secondary.at]
