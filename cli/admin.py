"""`unioncard admin …`: find stuck workflows and repair them through the API, with an admin's token."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer

admin_app = typer.Typer(help="Find stuck workflows and repair them (an admin's token).", no_args_is_help=True)
Token = Annotated[str, typer.Option(envvar="UNIONCARD_TOKEN", help="an admin's token")]
ApiUrl = Annotated[str, typer.Option(envvar="UNIONCARD_API_URL")]
Reason = Annotated[str, typer.Option(help="why (kept in the audit log)")]


def _admin_call(api_url: str, token: str, method: str, path: str, **kw: Any) -> Any:
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        r = client.request(method, path, **kw)
    if r.status_code >= 400:
        error = r.json().get("error", {})
        typer.echo(f"refused ({r.status_code} {error.get('code')}): {error.get('message')}", err=True)
        raise typer.Exit(1)
    return r.json()


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 86400:
        return f"{seconds // 86400}d{seconds % 86400 // 3600}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60}m"
    return f"{seconds // 60}m{seconds % 60}s"


def _activity_line(a: dict[str, Any]) -> str:
    state = "paused" if a["paused"] else a["state"]
    failure = f" last failure: {a['last_failure']}" if a["last_failure"] else ""
    retry = f" next retry {a['next_attempt_at']}" if a["next_attempt_at"] else ""
    return f"{a['activity_type']} (id {a['activity_id']}, {state}, attempt {a['attempt']}){retry}{failure}"


@admin_app.command("stuck")
def admin_stuck(
    token: Token,
    api_url: ApiUrl = "http://127.0.0.1:8000",
    kind: Annotated[str | None, typer.Option("--type", help="claim, enrollment, card_batch, ...")] = None,
    status: Annotated[str | None, typer.Option(help="business status, e.g. under_review")] = None,
    org: Annotated[str | None, typer.Option(help="organisation code (with everything below it)")] = None,
    stale_for: Annotated[str | None, typer.Option(help="no transition for longer than: 30m, 24h, 7d")] = None,
    failing: Annotated[bool, typer.Option(help="only workflows with a failing activity or task")] = False,
    overdue: Annotated[bool, typer.Option(help="only overdue ones")] = False,
    include_closed: Annotated[bool, typer.Option(help="closed ones too (failed, terminated, ...)")] = False,
    size: int = 50,
) -> None:
    """Running workflows that match, one per line: id, type, status, awaiting, age in state, and
    the pending activity with its attempts and last failure."""
    params = {"type": kind, "status": status, "org": org, "stale_for": stale_for, "size": size}
    params |= {"failing": str(failing).lower(), "overdue": str(overdue).lower()}
    params |= {"include_closed": str(include_closed).lower()}
    page = _admin_call(api_url, token, "GET", "/admin/workflows", params={k: v for k, v in params.items() if v})
    for row in page["items"]:
        flags = f" {row['execution_status'].upper()}" if row["execution_status"] != "running" else ""
        flags += " OVERDUE" if row["overdue"] else ""
        flags += " FAILING" if row["failing"] else ""
        typer.echo(
            f"{row['workflow_id']}  {row['kind'] or row['workflow_type']}  {row['status'] or '-'}  "
            f"awaiting {row['awaiting'] or '-'}  in state {_age(row['seconds_in_state'])}  "
            f"org {row['org_code'] or '-'}{flags}"
        )
        for a in row["pending_activities"]:
            typer.echo(f"    {_activity_line(a)}")
    typer.echo(
        f"{len(page['items'])} workflow(s)" + ("; more: use the API's page_token" if page["next_page_token"] else "")
    )


@admin_app.command("show")
def admin_show(workflow_id: str, token: Token, api_url: ApiUrl = "http://127.0.0.1:8000") -> None:
    """One workflow: state, history size, pending activities, timers, audit history."""
    d = _admin_call(api_url, token, "GET", f"/admin/workflows/{workflow_id}")
    row = d["row"]
    typer.echo(f"{row['workflow_id']} ({row['workflow_type']}, run {row['run_id']}): {row['execution_status']}")
    typer.echo(f"  status {row['status'] or '-'}, awaiting {row['awaiting'] or '-'}, org {row['org_code'] or '-'}")
    typer.echo(f"  in state {_age(row['seconds_in_state'])}, overdue {row['overdue']}")
    typer.echo(f"  history {d['history_length']} events, {d['history_size_bytes']} bytes")
    if d["failure"]:
        typer.echo(f"  failed: {d['failure']}  (repair: reset to the last good workflow task)")
    if row["workflow_task_attempt"] > 1:
        typer.echo(
            f"  workflow task failing (attempt {row['workflow_task_attempt']}): {d['last_workflow_task_failure']}"
        )
    for a in row["pending_activities"]:
        typer.echo(f"  activity {_activity_line(a)}")
    for t in d["pending_timers"]:
        typer.echo(f"  timer {t['timer_id']} fires at {t['fires_at']}")
    for h in d["audit"]:
        typer.echo(f"  {h['at']}  {h['action']}  {h['from_state'] or ''} -> {h['to_state'] or ''}  {h['summary']}")


def _repair(action: str, workflow_id: str, reason: str, token: str, api_url: str, activity: str | None = None) -> None:
    body = {"action": action, "reason": reason, "activity_id": activity}
    done = _admin_call(api_url, token, "POST", f"/admin/workflows/{workflow_id}/repairs", json=body)
    typer.echo(" ".join(f"{k}={v}" for k, v in done.items()))


Activity = Annotated[str | None, typer.Option("--activity", help="the pending activity's id (when several)")]


@admin_app.command("retry")
def admin_retry(
    workflow_id: str, reason: Reason, token: Token, api_url: ApiUrl = "http://127.0.0.1:8000", activity: Activity = None
) -> None:
    """Retry a failing activity now (its attempts start again)."""
    _repair("retry", workflow_id, reason, token, api_url, activity)


@admin_app.command("repair")
def admin_repair(
    workflow_id: str,
    action: Annotated[str, typer.Argument(help="pause, unpause, cancel, terminate, reset, resend")],
    reason: Reason,
    token: Token,
    api_url: ApiUrl = "http://127.0.0.1:8000",
    activity: Activity = None,
) -> None:
    """Any other repair: pause/unpause an activity, cancel, terminate, reset to the last good
    workflow task, resend a card batch to the bank."""
    _repair(action, workflow_id, reason, token, api_url, activity)
