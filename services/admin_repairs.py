"""Admins find stuck workflows and repair them: every repair audited with the admin and a reason,
and the rows a stopped workflow drove ended with it."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import asdict
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from activities.import_outcome import end_import
from activities.stopped_workflow import end_stopped_workflow
from core.audit import audit_action, audit_history, audit_public
from core.auth import Actor, require_role
from core.errors import Invalid
from core.settings import Settings
from models.audit import AuditPublic
from models.inputs import MULTILINE, RequestBody
from models.member_import import MemberImport
from models.states import Role
from services import workflow_admin as wa
from services.orgs import get_org
from services.workflow_calls import actor_ref, run_update
from workflows.card_batch import BatchSummary, CardBatchWorkflow
from workflows.common import Act

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
# tables whose rows a workflow drives: (table, audit entity type, column the audit rows are keyed by)
_ENTITIES = (
    ("claims", "claim", "id"),
    ("enrollments", "enrollment", "id"),
    ("district_filings", "district_filing", "id"),
    ("card_batches", "card_batch", "id"),
    ("card_losses", "card_loss", "card_no"),
    ("registrations", "registration", "id"),
    ("member_imports", "member_import", "id"),
)


def duration(text: str | None) -> timedelta | None:
    """'30m', '24h', '7d' -> a timedelta."""
    if not text:
        return None
    m = _DURATION.match(text.strip())
    if not m:
        raise Invalid("invalid_duration", "时长格式应为数字加单位，如 30m、24h、7d", details={"field": "stale_for"})
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


class WorkflowPage(BaseModel):
    items: list[dict[str, Any]]
    next_page_token: str | None = Field(None, description="Pass as page_token for the next page")


class RepairBody(RequestBody):
    action: str = Field(max_length=20, description="retry, pause, unpause, cancel, terminate, reset, resend")
    reason: Annotated[str, MULTILINE] = Field(min_length=2, max_length=400, description="Why (kept in the audit log)")
    activity_id: str | None = Field(None, max_length=200, description="retry/pause/unpause: which pending activity")


async def stuck_workflows(
    *, session: Session, actor: Actor, temporal: Client, type: str | None, status: str | None, org: str | None,
    stale_for: str | None, failing: bool, overdue: bool, include_closed: bool, size: int, page_token: str | None,
) -> WorkflowPage:  # fmt: skip
    """Workflows by type, status, organisation subtree, age in state, failing, overdue; each row
    with who it awaits and its pending activities (attempt, last failure, next retry)."""
    require_role(actor, Role.ADMIN)
    org_id = (await run_in_threadpool(get_org, session, org)).id if org else None
    session.commit()
    filters = wa.Filters(type, status, org_id, duration(stale_for), failing, overdue, not include_closed)
    rows, token = await wa.find(temporal, filters, size=size, page_token=_token_in(page_token))
    return WorkflowPage(items=[asdict(r) for r in rows], next_page_token=_token_out(token))


async def workflow_detail(*, session: Session, actor: Actor, temporal: Client, workflow_id: str) -> dict[str, Any]:
    """Everything of the list row plus history length and size, pending timers and deadlines,
    the last workflow task failure, and the audit history of the entity the workflow drives."""
    require_role(actor, Role.ADMIN)
    found = await wa.detail(temporal, workflow_id)
    history = await run_in_threadpool(_audit_history, session, workflow_id)
    return {**asdict(found), "audit": [h.model_dump(mode="json") for h in history]}


async def repair_workflow(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, workflow_id: str, data: RepairBody
) -> dict[str, Any]:
    """Retry a failing activity now, pause or unpause it, cancel, terminate, reset the workflow
    to its last good workflow task, or resend a card batch to the bank."""
    require_role(actor, Role.ADMIN)
    if data.action == "resend":
        if not workflow_id.startswith("card-batch-"):
            raise Invalid("unknown_repair", "只有卡批次可以重新发送给银行")
        await run_update(
            temporal, workflow_id, CardBatchWorkflow.resend, Act(actor_ref(actor), data.reason),
            rpc_seconds=settings.update_timeout_seconds, result_type=BatchSummary, session=session,
        )  # fmt: skip
        done: dict[str, Any] = {"action": "resend", "workflow_id": workflow_id}
    else:
        session.commit()
        done = await wa.repair(
            temporal, settings.temporal_namespace, workflow_id, data.action, data.reason, data.activity_id
        )

    def record() -> None:
        what = " ".join(f"{k}={v}" for k, v in done.items() if k not in ("action", "workflow_id", "closed"))
        audit_action(
            session, actor, f"workflow.{data.action}", ("workflow", workflow_id),
            f"{data.reason}（{what}）" if what else data.reason, org_id=None,
        )  # fmt: skip
        _end_stopped_import(session, workflow_id, data.action, data.reason)
        if done.get("closed"):  # its own steps will not run: the rows it drove end here
            end_stopped_workflow(session.connection(), actor, workflow_id, data.action, data.reason)
        session.commit()

    await run_in_threadpool(record)
    return done


def _end_stopped_import(session: Session, workflow_id: str, action: str, reason: str) -> None:
    """A member import whose workflow an admin cancels or terminates ends failed, its files deleted
    (its workflow will not run its own ending)."""
    number = workflow_id.removeprefix("member-import-")
    if action not in ("cancel", "terminate") or number == workflow_id or not number.isdigit():
        return
    imp = session.get(MemberImport, int(number)) if int(number) < 2**31 else None
    if imp is not None:
        end_import(session, imp, f"管理员{'取消' if action == 'cancel' else '终止'}了导入：{reason}")


def _audit_history(session: Session, workflow_id: str) -> list[AuditPublic]:
    """The transitions of the entity behind ``workflow_id`` and the repairs done to it."""
    keys: list[tuple[str, str]] = [("workflow", workflow_id)]
    for table, entity, column in _ENTITIES:
        row = session.connection().exec_driver_sql(
            f"SELECT {column} FROM {table} WHERE workflow_id = %(w)s", {"w": workflow_id}
        ).first()  # fmt: skip
        if row:
            keys.append((entity, str(row[0])))
            break
    events = [e for entity, key in keys for e in audit_history(session, entity, key)]
    events.sort(key=lambda e: (e.at, e.id or 0))
    return [audit_public(e, None) for e in events]


# A page token is Temporal's with a checksum in front: a token this API did not give out is refused
# here (Temporal's client would retry it for seconds before failing).
_CHECK = 8


def _token_in(text: str | None) -> bytes | None:
    if not text:
        return None
    try:
        raw = base64.urlsafe_b64decode(text.encode())
    except (binascii.Error, ValueError):
        raw = b""
    check, token = raw[:_CHECK], raw[_CHECK:]
    if not token or not hmac.compare_digest(check, hashlib.sha256(token).digest()[:_CHECK]):
        raise Invalid("invalid_page_token", "翻页标记无效，请从第一页重新查询", details={"field": "page_token"})
    return token


def _token_out(token: bytes | None) -> str | None:
    return base64.urlsafe_b64encode(hashlib.sha256(token).digest()[:_CHECK] + token).decode() if token else None
