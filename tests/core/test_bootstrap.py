"""`unioncard bootstrap` on an empty database: the city federation and a first admin whose token
works at once and whose printed login and setup code set a password that signs in (the account's
creation audited as the shell's); a second bootstrap is refused and changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from api.app import create_app
from core.db import Database
from core.settings import Settings
from services.accounts import OPERATOR
from tests.conftest import fresh_database


def bootstrap(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UNIONCARD_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "bootstrap", *args], env=env, capture_output=True, text=True, timeout=60
    )


async def test_bootstrap_makes_the_city_and_its_first_admin(pg_server: str, settings: Settings) -> None:
    url = fresh_database(pg_server, "unioncard_bootstrap")
    done = bootstrap(url, "--code", "BJ", "--name", "北京市总工会", "--admin", "首位管理员", "--login", "x14-first")
    assert done.returncode == 0, done.stderr
    token = done.stdout.split("token: ")[1].strip()
    login = done.stdout.splitlines()[0].split("login ")[1].strip()
    setup_code = done.stdout.split(" UTC): ")[1].split()[0]
    assert login == "x14-first"
    db = Database(url)
    app = create_app(settings.model_copy(update={"database_url": url}), db=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as api:
        # the printed login and setup code set the admin's password, and it signs in
        body = {"login": login, "setup_code": setup_code, "password": "Beijing-first-2095"}
        assert (await api.post("/accounts/setup", json=body)).status_code == 204
        signed = await api.post("/session", json={"login": login, "password": "Beijing-first-2095"})
        assert signed.status_code == 200 and signed.json()["role"] == "admin", signed.text
        api.cookies.clear()
        auth = {"Authorization": f"Bearer {token}"}
        city = await api.get("/orgs/BJ", headers=auth)
        assert city.status_code == 200 and city.json()["level"] == "city", city.text
        district = await api.post(
            "/orgs",
            headers=auth,
            json={"code": "201", "name": "东城区总工会", "level": "district", "parent_code": "BJ"},
        )
        assert district.status_code == 201, district.text  # the admin builds the tree from here
    again = bootstrap(url, "--code", "BJ2", "--name", "另一个市总", "--admin", "第二位")
    assert again.returncode == 2 and "city_exists" in again.stderr
    with db.connect() as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (1,)
        actions = conn.execute(
            "SELECT action, actor_name FROM audit_events WHERE entity_type = 'user' ORDER BY id"
        ).fetchall()
    assert actions[0] == ("user.created", OPERATOR) and "session.signed_in" in {a for a, _ in actions}
    db.dispose()
