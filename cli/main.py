"""The `unioncard` command: dev, demo-tokens, worker, api, migrate, bootstrap, user add, import-members, admin."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import httpx
import typer

from cli.admin import admin_app
from core.logging import configure_logging
from core.settings import get_settings
from models.states import Role

if TYPE_CHECKING:
    from sqlmodel import Session

    from models.user import UserCreate

app = typer.Typer(help="unioncard: the union member service card programme.", no_args_is_help=True)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
user_app = typer.Typer(help="Users and tokens.", no_args_is_help=True)
app.add_typer(user_app, name="user")


@app.command()
def dev() -> None:
    """Run everything locally: embedded PostgreSQL, Temporal dev server, worker, API."""
    from cli.dev import run_dev

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    run_dev(settings)


@app.command("demo-tokens")
def demo_tokens() -> None:
    """The demo tokens `unioncard dev` printed, as shell variables: eval "$(unioncard demo-tokens)"
    sets $ADMIN, $CENTER, $REVIEWER, $CLERK, $UNION_REVIEWER…"""
    import json

    from cli.demo import token_variables

    path = get_settings().data_dir / "demo-tokens.json"
    if not path.exists():
        typer.echo(f"error: {path} does not exist: run `unioncard dev` first", err=True)
        raise typer.Exit(1)
    for line in token_variables(json.loads(path.read_text(encoding="utf-8"))):
        typer.echo(line)


def _require_codec() -> None:
    """Refuse to start a process that talks to Temporal without its codec keys (unless
    UNIONCARD_CODEC_ALLOW_CLEAR says so)."""
    from core.codec import CodecError, payload_codec

    try:
        payload_codec(get_settings())
    except CodecError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def worker() -> None:
    """Run the worker against the configured Temporal and database."""
    import worker as worker_module

    _require_codec()
    worker_module.main()


@app.command()
def api() -> None:
    """Run the API (uvicorn) against the configured Temporal and database."""
    import uvicorn

    from api.app import create_app

    _require_codec()
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    # proxy_headers off: the API itself decides whose X-Forwarded-For to believe (UNIONCARD_TRUSTED_PROXIES).
    uvicorn.run(
        create_app(settings), host=settings.api_host, port=settings.api_port, log_config=None, access_log=False,
        proxy_headers=False,
    )  # fmt: skip


@app.command("new-codec-key")
def new_codec_key(key_id: Annotated[str, typer.Argument(help="the key's name, e.g. 2027a")]) -> None:
    """Print a new random codec key as `id:base64key`. To rotate: add it at the end of
    UNIONCARD_CODEC_KEYS on every process, then move it to the front; keep the old keys after it."""
    from core.codec import CodecError, new_key_spec

    try:
        typer.echo(new_key_spec(key_id))
    except CodecError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("bank-sim")
def bank_sim() -> None:
    """Run the bank simulator (its callbacks go to UNIONCARD_CALLBACK_URL, signed with UNIONCARD_BANK_SECRET)."""
    import uvicorn

    from bank_sim.app import create_bank_app

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    uvicorn.run(
        create_bank_app(settings.bank_secret, state_file=settings.data_dir / "bank-sim.json"),
        host=settings.api_host,
        port=settings.bank_sim_port,
        log_config=None,
        access_log=False,
    )


@app.command()
def migrate() -> None:
    """Apply database migrations."""
    from cli.dev import resolve_database_url
    from core.db import migrate as run_migrations

    settings = get_settings()
    run_migrations(resolve_database_url(settings))
    typer.echo("database is up to date")


@contextlib.contextmanager
def _database_session() -> Iterator[Session]:
    """A session on the configured database; a refusal (AppError) ends the command with code 2."""
    from cli.dev import resolve_database_url
    from core.db import Database
    from core.errors import AppError

    db = Database(resolve_database_url(get_settings()))
    try:
        with db.session() as session:
            yield session
    except AppError as exc:
        typer.echo(f"error: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        db.dispose()


def _user_create(*, name: str, org_code: str, role: Role, login: str | None) -> UserCreate:
    """The account to create, checked as POST /users checks it (a refusal ends the command with code 2)."""
    from pydantic import ValidationError

    from models.user import UserCreate

    try:
        return UserCreate(name=name, org_code=org_code, role=role, login=login)
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors() if e["loc"])
        typer.echo(f"error: invalid_input: {fields or 'the arguments'} not accepted", err=True)
        raise typer.Exit(2) from None


@user_app.command("add")
def user_add(
    org: Annotated[str, typer.Option(help="organisation code")],
    role: Annotated[Role, typer.Option(help="clerk, reviewer, center_reviewer or admin")],
    name: Annotated[str, typer.Option(help="the person's name")],
    login: Annotated[str | None, typer.Option(help="the sign-in name (made from the organisation if omitted)")] = None,
) -> None:
    """Create a user: prints their login name, API token and setup code (each shown once)."""
    from services.accounts import create_account

    data = _user_create(name=name, org_code=org, role=role, login=login)
    with _database_session() as session:
        made = create_account(session=session, actor=None, data=data)  # audited as the shell's operator
    typer.echo(f"user {made.id} {name} ({role.value}) of {org}, login {made.login}")
    typer.echo(f"setup code (until {made.setup_expires_at:%Y-%m-%d %H:%M} UTC): {made.setup_code}")
    typer.echo(f"token: {made.token}")


@user_app.command("list")
def user_list(
    org: Annotated[str | None, typer.Option(help="an organisation and everything below it")] = None,
) -> None:
    """The accounts: login, name, role, organisation, active, password set."""
    from services.accounts import list_accounts

    with _database_session() as session:
        rows = list_accounts(session=session, actor=None, org_code=org, page=1, size=500)
    for a in rows:
        state = "active" if a.active else "deactivated"
        password = "password set" if a.password_set else "no password yet"
        typer.echo(f"{a.login:<28} {a.name:<12} {a.role.value:<16} {a.org_code:<14} {state}, {password}")


@user_app.command("deactivate")
def user_deactivate(login: Annotated[str, typer.Argument(help="the account's login name")]) -> None:
    """Stop an account: its sessions end and its tokens are refused at once."""
    from services.accounts import deactivate

    with _database_session() as session:
        done = deactivate(session=session, actor=None, login=login)
    typer.echo(f"{done.login} deactivated")


@user_app.command("reactivate")
def user_reactivate(login: Annotated[str, typer.Argument(help="the account's login name")]) -> None:
    """Start a deactivated account again: its tokens work again (its ended sessions stay ended)."""
    from services.accounts import reactivate

    with _database_session() as session:
        done = reactivate(session=session, actor=None, login=login)
    typer.echo(f"{done.login} active again")


@user_app.command("reset")
def user_reset(login: Annotated[str, typer.Argument(help="the account's login name")]) -> None:
    """A new setup code for a forgotten password (shown once, valid 72 hours)."""
    from services.accounts import reset

    with _database_session() as session:
        issued = reset(session=session, actor=None, login=login)
    until = f"{issued.setup_expires_at:%Y-%m-%d %H:%M} UTC"
    typer.echo(f"setup code for {issued.login} (until {until}): {issued.setup_code}")


@app.command()
def bootstrap(
    code: Annotated[str, typer.Option(help="the city federation's code, e.g. SH")],
    name: Annotated[str, typer.Option(help="the city federation's name")],
    admin: Annotated[str, typer.Option(help="the first admin's name")],
    login: Annotated[str, typer.Option(help="the first admin's login name")] = "admin",
) -> None:
    """On an empty database: the city federation and its first admin (login name, token and setup
    code printed once). The admin then creates districts, unions and users."""
    from models.org import OrgCreate
    from models.states import OrgLevel
    from services.accounts import create_account
    from services.orgs import create_org

    data = _user_create(name=admin, org_code=code, role=Role.ADMIN, login=login)
    with _database_session() as session:
        create_org(session, OrgCreate(code=code, name=name, level=OrgLevel.CITY))
        made = create_account(session=session, actor=None, data=data)  # one commit: the city and its admin
    typer.echo(f"organisation {code} {name} (city); admin user {made.id} {admin}, login {made.login}")
    typer.echo(f"setup code (until {made.setup_expires_at:%Y-%m-%d %H:%M} UTC): {made.setup_code}")
    typer.echo("  the admin sets a password with it: POST /accounts/setup {login, setup_code, password}")
    typer.echo(f"token: {made.token}")


@app.command("import-members")
def import_members(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help=".xlsx or .csv")],
    org: Annotated[str, typer.Option(help="grassroots union code")],
    token: Annotated[str, typer.Option(envvar="UNIONCARD_TOKEN", help="a clerk's token")],
    api_url: Annotated[str, typer.Option(envvar="UNIONCARD_API_URL")] = "http://127.0.0.1:8000",
) -> None:
    """Upload a member file through the API and follow it to the end with a progress bar."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=api_url, headers=headers, timeout=120) as client:
        kind = XLSX if file.suffix.lower() == ".xlsx" else "text/csv"
        with file.open("rb") as f:  # streamed as the request body
            r = client.post(
                f"/orgs/{org}/members/imports",
                params={"filename": file.name},
                content=f,
                headers={"Content-Type": kind},
            )
        if r.status_code >= 400:
            error = r.json().get("error", {})
            typer.echo(f"refused ({r.status_code} {error.get('code')}): {error.get('message')}", err=True)
            raise typer.Exit(1)
        view = r.json()
        with typer.progressbar(length=1000, label=f"import {view['id']}") as bar:
            done = 0
            while True:
                target = int(view["progress"] * 1000)
                bar.update(target - done)
                done = target
                if view["status"] in ("completed", "failed"):
                    break
                time.sleep(0.5)
                view = client.get(f"/imports/{view['id']}", params={"errors_limit": 20}).json()
    typer.echo(
        f"status {view['status']}: {view['processed_rows']} rows, {view['accepted']} added, "
        f"{view['existing']} already registered, {view['rejected_rows']} rejected"
    )
    for e in view["errors"][:20]:
        typer.echo(f"  row {e['row']} {e['column'] or ''}: {e['message']} ({e['code']})")
    if view["rejected_rows"]:
        typer.echo(f"rejected rows: {api_url}/imports/{view['id']}/errors.xlsx")
    if view["status"] == "failed":
        typer.echo(f"failure: {view['failure']}", err=True)
        raise typer.Exit(1)


app.add_typer(admin_app, name="admin")


if __name__ == "__main__":
    app()
