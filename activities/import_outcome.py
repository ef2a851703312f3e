"""How a member import ends: its status, counts and audit row written once, and its files deleted.

Whatever ends an import (its workflow finishing or failing, an admin cancelling or terminating
it) ends it here, so no import stays queued or running after its workflow is gone and no upload
outlives its import: the members and the rejected rows are in the database by then.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from core.audit import append_audit
from core.private_files import remove_quietly
from models.member_import import MemberImport
from models.states import ImportStatus

FINISHED = (ImportStatus.COMPLETED, ImportStatus.FAILED)


def remove_import_files(imp: MemberImport) -> None:
    """The uploaded file and the CSV made from it (whole or in part): they hold ID numbers and phones."""
    stored = Path(imp.stored_path)
    remove_quietly(stored, stored.with_suffix(".csv"), stored.with_suffix(".partial"), imp.data_path)


def end_import(session: Session, imp: MemberImport, failure: str | None) -> bool:
    """Record the import's end (not committed) and delete its files; False when it had ended already."""
    remove_import_files(imp)
    if imp.status in FINISHED:
        return False
    before = imp.status
    imp.status = ImportStatus.FAILED if failure else ImportStatus.COMPLETED
    imp.failure = failure[:2000] if failure else None
    imp.total_rows = imp.accepted + imp.existing + imp.rejected  # blank rows are not members
    imp.finished_at = datetime.now(UTC)
    session.add(imp)
    summary = (
        f"导入失败：{imp.failure}"
        if failure
        else f"导入完成：共{imp.total_rows}行，新增{imp.accepted}人，已存在{imp.existing}人，退回{imp.rejected}行"
    )
    append_audit(
        session,
        actor_id=imp.created_by,
        actor_name="system",
        org_id=imp.org_id,
        action=f"member_import.{imp.status.value}",
        entity_type="member_import",
        entity_id=imp.id or 0,
        summary=summary,
        from_state=before.value,
        to_state=imp.status.value,
    )
    return True
