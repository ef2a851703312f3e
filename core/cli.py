"""The `unioncard` command: dev, worker, api, migrate, user add, import-members."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import httpx
import typer

from core.logging import configure_logging
from core.settings import get_settings
from models.states import Role

app = typer.Typer(help="unioncard: the union member service card programme.", no_args_is_help=True)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
user_app = typer.Typer(help="Users and tokens.", no_args_is_help=True)
app.add_typer(user_app, name="user")


@app.command()
def dev() -> None:
    """Run everything locally: embedded PostgreSQL, Temporal dev server, worker, API."""
    from core.dev import run_dev

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    run_dev(settings)


@app.command()
def worker() -> None:
    """Run the worker against the configured Temporal and database."""
    import worker as worker_module

    worker_module.main()


@app.command()
def api() -> None:
    """Run the API (uvicorn) against the configured Temporal and database."""
    import uvicorn

    from api.app import create_app

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port, log_config=None, access_log=False)


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
    from core.db import migrate as run_migrations
    from core.dev import resolve_database_url

    settings = get_settings()
    run_migrations(resolve_database_url(settings))
    typer.echo("database is up to date")


@user_app.command("add")
def user_add(
    org: Annotated[str, typer.Option(help="organisation code")],
    role: Annotated[Role, typer.Option(help="clerk, reviewer, center_reviewer or admin")],
    name: Annotated[str, typer.Option(help="the person's name")],
) -> None:
    """Create a user and print their token (shown once)."""
    from core.db import Database
    from core.dev import resolve_database_url
    from core.errors import AppError
    from core.users import create_user

    db = Database(resolve_database_url(get_settings()))
    try:
        with db.session() as session:
            user, token = create_user(session, name=name, org_code=org, role=role)
            user_id = user.id
            session.commit()
    except AppError as exc:
        typer.echo(f"error: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    typer.echo(f"user {user_id} {name} ({role.value}) of {org}")
    typer.echo(f"token: {token}")


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


if __name__ == "__main__":
    app()
