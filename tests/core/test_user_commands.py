"""`unioncard user list|add|deactivate|reactivate|reset` run in-process against the tests' database:
what each prints, what it changes (a deactivated account's token is refused until it is active
again, a reset's code sets a password that signs in) and the audit row each writes, from the shell
as its operator."""

from __future__ import annotations

import inspect
import re

import pytest
from typer.testing import CliRunner, Result

import cli.main
from core.db import Database
from core.errors import AppError
from core.settings import Settings
from models.account import PasswordSetup
from services import accounts, sessions
from services.accounts import OPERATOR

LOGIN = "x14-cli-clerk"


@pytest.fixture
def unioncard(db_url: str, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The command on the tests' database (the demo unions seeded: ``tokens``)."""
    monkeypatch.setattr(cli.main, "get_settings", lambda: Settings(database_url=db_url))
    return CliRunner()


def run(runner: CliRunner, *args: str) -> Result:
    done = runner.invoke(cli.main.app, list(args))
    assert done.exit_code == 0, (done.stdout, done.stderr, done.exception)
    return done


def listed(runner: CliRunner) -> str:
    """The account's line of `user list --org 104-0002`."""
    lines = [line for line in run(runner, "user", "list", "--org", "104-0002").stdout.splitlines() if LOGIN in line]
    assert len(lines) == 1, lines
    return lines[0]


def audit(db: Database, user_id: int) -> list[tuple[str, int | None, str]]:
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT action, actor_id, actor_name FROM audit_events WHERE entity_type = 'user' AND entity_id = %s"
            " ORDER BY id",
            (str(user_id),),
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def test_the_account_commands_from_the_shell(unioncard: CliRunner, db: Database) -> None:
    added = run(
        unioncard, "user", "add", "--org", "104-0002", "--role", "clerk", "--name", "命令行经办", "--login", LOGIN
    )
    first = added.stdout.splitlines()[0]
    assert first.endswith(f"login {LOGIN}") and "命令行经办 (clerk) of 104-0002" in first, added.stdout
    user_id = int(first.split()[1])
    token = added.stdout.split("token: ")[1].strip()
    with db.session() as session:
        assert sessions.actor_for_token(session, token).user_id == user_id
    line = listed(unioncard)
    assert "命令行经办" in line and "clerk" in line and line.endswith("active, no password yet"), line

    stopped = run(unioncard, "user", "deactivate", LOGIN)
    assert stopped.stdout.strip() == f"{LOGIN} deactivated"
    assert listed(unioncard).endswith("deactivated, no password yet")
    with db.session() as session, pytest.raises(AppError) as refused:
        sessions.actor_for_token(session, token)
    assert refused.value.code == "invalid_token"

    back = run(unioncard, "user", "reactivate", LOGIN)
    assert back.stdout.strip() == f"{LOGIN} active again"
    assert listed(unioncard).endswith("active, no password yet")
    with db.session() as session:
        assert sessions.actor_for_token(session, token).user_id == user_id

    reset = run(unioncard, "user", "reset", LOGIN)
    found = re.fullmatch(rf"setup code for {LOGIN} \(until [\d-]+ [\d:]+ UTC\): (\S+)", reset.stdout.strip())
    assert found, reset.stdout
    with db.session() as session:
        data = PasswordSetup(login=LOGIN, setup_code=found[1], password="Shell-reset-2096")
        accounts.set_password_with_code(session=session, data=data)
        signed = sessions.sign_in(session=session, login=LOGIN, password="Shell-reset-2096", client="10.14.0.1")
        assert signed.user.id == user_id
    assert listed(unioncard).endswith("active, password set")

    # each change is audited, with the shell's operator as its actor (no user of the service)
    shell = [(action, None, OPERATOR) for action in ("user.deactivated", "user.reactivated", "user.reset")]
    assert audit(db, user_id)[:4] == [("user.created", None, OPERATOR), *shell]


def test_the_account_commands_refuse_an_unknown_or_malformed_login(unioncard: CliRunner, db: Database) -> None:
    for command in ("deactivate", "reactivate", "reset"):
        done = unioncard.invoke(cli.main.app, ["user", command, "x14-nobody"])
        assert done.exit_code == 2 and "user_not_found" in done.stderr, (command, done.stderr)
    add = ["user", "add", "--org", "104-0002", "--role", "clerk", "--name", "命令行乙"]
    malformed = unioncard.invoke(cli.main.app, [*add, "--login", "X14 Bad!"])  # what POST /users refuses too
    assert malformed.exit_code == 2 and "invalid_input: login" in malformed.stderr, malformed.stderr
    taken = unioncard.invoke(cli.main.app, [*add, "--login", "sh-admin"])
    assert taken.exit_code == 2 and "login_taken" in taken.stderr, taken.stderr
    with db.connect() as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE name = '命令行乙'").fetchone() == (0,)


def test_every_account_command_says_what_it_does() -> None:
    commands = {c.name: c for c in cli.main.user_app.registered_commands}
    for name in ("list", "add", "deactivate", "reactivate", "reset"):
        command = commands[name]
        assert command.help or inspect.getdoc(command.callback), name  # shown by `unioncard user --help`
