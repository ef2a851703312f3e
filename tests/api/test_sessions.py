"""Signing in over HTTP: the session cookie and its CSRF token, timeouts, lockouts, deactivation
ending a live session and a cached token at once (in this process and, through PostgreSQL's
NOTIFY, in another), one's own password and API tokens, and the audit of it all."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from api.auth_listener import AuthListener
from core.db import Database
from core.passwords import digest
from core.settings import Settings
from tests.conftest import auth

PASSWORD = "Huangpu-union-2026"
_addresses = itertools.count(1)


@pytest.fixture
async def web(settings: Settings, db: Database, temporal_client: Client) -> AsyncIterator[httpx.AsyncClient]:
    """A client from an address of its own (behind a trusted proxy), so that address locks of one
    test never reach another."""
    app = create_app(settings.model_copy(update={"trusted_proxies": "127.0.0.1"}), db=db, temporal=temporal_client)
    headers = {"X-Forwarded-For": f"10.77.{next(_addresses)}.{int(time.time()) % 250 + 1}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", headers=headers, timeout=60
    ) as client:
        yield client


async def account(web: httpx.AsyncClient, tokens: dict[str, str], login: str, org: str = "101-0001") -> dict[str, Any]:
    """A clerk account made by the district's reviewer, its password set with the setup code."""
    r = await web.post(
        "/users",
        json={"name": "会话测试", "org_code": org, "role": "clerk", "login": login},
        headers=auth(tokens["reviewer@101"]),
    )
    assert r.status_code == 201, r.text
    made: dict[str, Any] = r.json()
    r = await web.post("/accounts/setup", json={"login": login, "setup_code": made["setup_code"], "password": PASSWORD})
    assert r.status_code == 204, r.text
    return made


def audit_of(db: Database, entity_id: object) -> list[tuple[str, int | None, str, str]]:
    """The audit rows of a user (or of an unknown login name): action, actor id and name, summary."""
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT action, actor_id, actor_name, summary FROM audit_events"
            " WHERE entity_type = 'user' AND entity_id = %s ORDER BY id",
            (str(entity_id),),
        ).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def sign_in(web: httpx.AsyncClient, login: str, password: str = PASSWORD, form: bool = False) -> httpx.Response:
    body = {"login": login, "password": password}
    return await (web.post("/session", data=body) if form else web.post("/session", json=body))


async def test_a_session_signs_in_carries_its_csrf_token_and_signs_out(
    web: httpx.AsyncClient, tokens: dict[str, str], db: Database
) -> None:
    await account(web, tokens, "session-a")
    r = await sign_in(web, "session-a", form=True)  # a browser's form
    assert r.status_code == 200, r.text
    me = r.json()
    assert (me["login"], me["role"], me["org_code"]) == ("session-a", "clerk", "101-0001") and me["csrf_token"]
    cookie = r.headers["set-cookie"]
    assert "unioncard_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http here; https sets it
    seen = await web.get("/me")
    assert seen.status_code == 200 and seen.json()["csrf_token"] == me["csrf_token"]
    # state-changing requests with the cookie need the CSRF token, in the header or a form field
    no_csrf = await web.post("/me/tokens", json={"name": "脚本"})
    assert (no_csrf.status_code, no_csrf.json()["error"]["code"]) == (403, "csrf")
    wrong = await web.post("/me/tokens", json={"name": "脚本"}, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    made = await web.post("/me/tokens", json={"name": "脚本"}, headers={"X-CSRF-Token": me["csrf_token"]})
    assert made.status_code == 201 and made.json()["token"].startswith("uc_")
    assert (await web.delete("/session")).status_code == 403  # signing out too
    kept = web.cookies["unioncard_session"]
    out = await web.delete("/session", headers={"X-CSRF-Token": me["csrf_token"]})
    assert out.status_code == 204 and "unioncard_session" not in web.cookies  # the cookie is cleared
    web.cookies.set("unioncard_session", kept)  # and the session ended on the server: sent again, refused
    after = await web.get("/me")
    assert (after.status_code, after.json()["error"]["code"]) == (401, "session_expired")
    # a bearer token needs no CSRF token; the JSON sign-in works as the form one
    assert (
        await web.post("/me/tokens", json={"name": "另一个"}, headers=auth(made.json()["token"]))
    ).status_code == 201
    web.cookies.clear()
    assert (await sign_in(web, "session-a")).status_code == 200
    me_id = (await web.get("/me")).json()["id"]
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT action FROM audit_events WHERE entity_type = 'user' AND entity_id = %s ORDER BY id", (str(me_id),)
        ).fetchall()
    actions = [r[0] for r in rows]
    assert me_id and actions[:1] == ["user.created"] and "user.password_set" in actions
    assert actions.count("session.signed_in") == 2 and "session.signed_out" in actions


async def test_sessions_end_after_30_idle_minutes_or_12_hours(
    web: httpx.AsyncClient, tokens: dict[str, str], db: Database
) -> None:
    await account(web, tokens, "session-idle")
    for column, age in (("last_seen_at", "31 minutes"), ("created_at", "12 hours 1 minute")):
        web.cookies.clear()
        r = await sign_in(web, "session-idle")
        assert r.status_code == 200
        assert (await web.get("/me")).status_code == 200
        with db.connect() as conn:
            conn.execute(
                f"UPDATE web_sessions SET {column} = now() - interval '{age}' WHERE id = %s",
                (digest(web.cookies["unioncard_session"]),),
            )
            conn.commit()
        gone = await web.get("/me")
        assert (gone.status_code, gone.json()["error"]["code"]) == (401, "session_expired"), column


async def test_wrong_passwords_lock_the_account_then_the_address(
    web: httpx.AsyncClient, tokens: dict[str, str], db: Database
) -> None:
    made = await account(web, tokens, "session-lock")
    unknown = await sign_in(web, "no-such-login")
    wrong = await sign_in(web, "session-lock", "wrong-password-1")
    assert unknown.json()["error"] == wrong.json()["error"]  # the same answer: no login name is revealed
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "invalid_credentials")
    for i in range(3):
        assert (await sign_in(web, "session-lock", f"wrong-password-{i + 2}")).status_code == 401
    fifth = await sign_in(web, "session-lock", "wrong-password-5")
    assert (fifth.status_code, fifth.json()["error"]["code"]) == (429, "account_locked")
    assert 800 < int(fifth.headers["retry-after"]) <= 900 and "15 分钟后再试" in fifth.json()["error"]["message"]
    right = await sign_in(web, "session-lock")
    assert right.status_code == 429  # locked: even the right password waits
    # every failure is audited under the account, the fifth saying it locked the account
    refusals = [row for row in audit_of(db, made["id"]) if row[0] == "session.refused"]
    assert len(refusals) == 5 and {(r[1], r[2]) for r in refusals} == {(made["id"], "session-lock")}
    assert "账号锁定 15 分钟" in refusals[-1][3] and not any("锁定" in r[3] for r in refusals[:-1])
    assert [r[:3] for r in audit_of(db, "no-such-login")][-1:] == [("session.refused", None, "no-such-login")]
    # twenty failures from one address lock the address, whatever the login names
    for i in range(13):  # 6 failures so far from this address (the unknown login included); 19 after this
        r = await sign_in(web, f"nobody-{i}", "x-password")
        assert r.status_code == 401, (i, r.text)
    locked = await sign_in(web, "nobody-last", "x-password")
    assert (locked.status_code, locked.json()["error"]["code"]) == (429, "account_locked")
    assert "地址锁定 15 分钟" in audit_of(db, "nobody-last")[-1][3]
    assert (await sign_in(web, "clerk-elsewhere", "whatever-pw")).status_code == 429


async def test_deactivation_ends_a_live_session_and_a_cached_token_at_once(
    web: httpx.AsyncClient, tokens: dict[str, str], settings: Settings, db: Database, temporal_client: Client
) -> None:
    made = await account(web, tokens, "session-stop")
    assert (await sign_in(web, "session-stop")).status_code == 200
    other = create_app(settings.model_copy(update={"token_cache_seconds": 300}), db=db, temporal=temporal_client)
    listener = AuthListener(db.url, other.state.tokens)
    listener.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url="http://other") as elsewhere:
            assert (await elsewhere.get("/me", headers=auth(made["token"]))).status_code == 200  # now cached there
            assert (await web.get("/me", headers=auth(made["token"]))).status_code == 200  # and here
            r = await web.post(f"/users/{made['login']}/deactivate", headers=auth(tokens["reviewer@101"]))
            assert r.status_code == 200 and r.json()["active"] is False
            here = await web.get("/me", headers=auth(made["token"]))
            assert (here.status_code, here.json()["error"]["code"]) == (401, "invalid_token")
            assert (await web.get("/me")).status_code == 401  # the session, cookie and all
            deadline = time.monotonic() + 5
            while (await elsewhere.get("/me", headers=auth(made["token"]))).status_code == 200:
                assert time.monotonic() < deadline, "another process kept honouring a deactivated token"
                await asyncio.sleep(0.05)
    finally:
        listener.stop()
    refused = await sign_in(web, "session-stop")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "account_inactive")
    outside = await web.post("/users/104-0001-clerk/deactivate", headers=auth(tokens["reviewer@101"]))
    assert (outside.status_code, outside.json()["error"]["code"]) == (403, "outside_scope")
    by_clerk = await web.post(f"/users/{made['login']}/reactivate", headers=auth(tokens["clerk@101-0001"]))
    assert by_clerk.status_code == 403
    back = await web.post(f"/users/{made['login']}/reactivate", headers=auth(tokens["reviewer@101"]))
    assert back.status_code == 200 and (await web.get("/me", headers=auth(made["token"]))).status_code == 200
    reviewer = (await web.get("/me", headers=auth(tokens["reviewer@101"]))).json()["id"]
    changes = [r[:3] for r in audit_of(db, made["id"]) if r[0] in ("user.deactivated", "user.reactivated")]
    assert changes == [("user.deactivated", reviewer, "黄浦区审核员"), ("user.reactivated", reviewer, "黄浦区审核员")]


async def test_own_password_and_tokens(web: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    made = await account(web, tokens, "session-own")
    me = (await sign_in(web, "session-own")).json()
    csrf = {"X-CSRF-Token": me["csrf_token"]}
    second = httpx.AsyncClient(transport=web._transport, base_url="http://test", headers=dict(web.headers))
    async with second:
        assert (await sign_in(second, "session-own")).status_code == 200  # another browser
        bad = await web.post(
            "/me/password", json={"current_password": "nope", "new_password": "Brand-new-2027"}, headers=csrf
        )
        assert (bad.status_code, bad.json()["error"]["code"]) == (422, "wrong_password")
        weak = await web.post(
            "/me/password", json={"current_password": PASSWORD, "new_password": "12345678901"}, headers=csrf
        )
        assert (weak.status_code, weak.json()["error"]["code"]) == (422, "weak_password")
        ok = await web.post(
            "/me/password", json={"current_password": PASSWORD, "new_password": "Brand-new-2027"}, headers=csrf
        )
        assert ok.status_code == 204
        assert (await web.get("/me")).status_code == 200  # this session stays
        assert (await second.get("/me")).status_code == 401  # the other one ended
    assert (await sign_in(web, "session-own", "Brand-new-2027")).status_code == 200
    bearer = auth(made["token"])
    script = await web.post(
        "/me/tokens", json={"name": "对账脚本", "expires_at": "2099-01-01T00:00:00+08:00"}, headers=bearer
    )
    assert script.status_code == 201
    listed = (await web.get("/me/tokens", headers=bearer)).json()
    assert [t["name"] for t in listed] == ["初始令牌", "对账脚本"] and "token" not in listed[1]
    past = await web.post("/me/tokens", json={"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, headers=bearer)
    assert (past.status_code, past.json()["error"]["code"]) == (422, "expiry_in_past")
    assert (await web.get("/me", headers=auth(script.json()["token"]))).status_code == 200
    soon = (datetime.now(UTC) + timedelta(seconds=1.5)).isoformat()
    brief = await web.post("/me/tokens", json={"name": "临时", "expires_at": soon}, headers=bearer)
    assert (await web.get("/me", headers=auth(brief.json()["token"]))).status_code == 200  # cached now
    await asyncio.sleep(1.6)
    assert (await web.get("/me", headers=auth(brief.json()["token"]))).status_code == 401  # expired, cache or not
    revoked = await web.delete(f"/me/tokens/{listed[0]['id']}", headers=bearer)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert (await web.get("/me", headers=bearer)).status_code == 401
    other = await web.delete(f"/me/tokens/{listed[0]['id']}", headers=auth(tokens["clerk@101-0001"]))
    assert other.status_code == 404  # another's token is not one's own


async def test_setup_codes_and_resets_over_http(web: httpx.AsyncClient, tokens: dict[str, str], db: Database) -> None:
    made = await account(web, tokens, "session-reset")
    used = await web.post(
        "/accounts/setup",
        json={"login": "session-reset", "setup_code": made["setup_code"], "password": "Some-other-2026"},
    )
    assert (used.status_code, used.json()["error"]["code"]) == (422, "invalid_setup_code")
    outside = await web.post("/users/session-reset/reset", headers=auth(tokens["reviewer@101-S01"]))
    assert outside.status_code == 403  # 101-0001 is not below the secondary union
    reset = await web.post("/users/session-reset/reset", headers=auth(tokens["reviewer@101"]))
    assert reset.status_code == 200 and reset.json()["setup_code"] != made["setup_code"]
    assert (await sign_in(web, "session-reset")).status_code == 200  # the old password until the new is set
    r = await web.post(
        "/accounts/setup",
        json={"login": "session-reset", "setup_code": reset.json()["setup_code"], "password": "Reset-done-2026"},
    )
    assert r.status_code == 204
    assert (await web.get("/me")).status_code == 401  # the new password ended the session
    assert (await sign_in(web, "session-reset", "Reset-done-2026")).status_code == 200
    listed = await web.get("/users", params={"org": "101-0001"}, headers=auth(tokens["reviewer@101"]))
    row = next(a for a in listed.json() if a["login"] == "session-reset")
    assert row["password_set"] is True and row["active"] is True
    assert (await web.get("/users", headers=auth(tokens["clerk@101-0001"]))).status_code == 403
    actions = [r[0] for r in audit_of(db, made["id"])]
    assert actions.count("user.reset") == 1 and actions.count("user.password_set") == 2  # the refused one: none
    assert actions.index("user.reset") < len(actions) - 1 - actions[::-1].index("user.password_set")


async def test_the_session_cookie_is_secure_over_https_also_behind_a_trusted_proxy(
    settings: Settings, db: Database, temporal_client: Client, web: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """Secure when the caller came over https: directly, or through a trusted proxy that says so in
    X-Forwarded-Proto (TLS ended in front of it); an untrusted caller's header is not believed."""
    await account(web, tokens, "session-tls")
    assert "Secure" not in (await sign_in(web, "session-tls")).headers["set-cookie"]
    proxied = await web.post(
        "/session", json={"login": "session-tls", "password": PASSWORD}, headers={"X-Forwarded-Proto": "https"}
    )
    assert proxied.status_code == 200 and "Secure" in proxied.headers["set-cookie"]
    for trusted, base, forwarded, secure in (
        ("", "https://test", "", True),  # https to the API itself
        ("", "http://test", "https", False),  # the header from a caller no one trusts
    ):
        app = create_app(settings.model_copy(update={"trusted_proxies": trusted}), db=db, temporal=temporal_client)
        headers = {"X-Forwarded-Proto": forwarded} if forwarded else {}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base, timeout=60) as direct:
            r = await direct.post("/session", json={"login": "session-tls", "password": PASSWORD}, headers=headers)
        assert r.status_code == 200, r.text
        assert ("Secure" in r.headers["set-cookie"]) is secure, (base, forwarded)
