"""Small helpers shared by the API tests."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import auth


async def upload(
    api: httpx.AsyncClient, token: str, org: str, path: Path, *, wait: bool = True, name: str | None = None
) -> httpx.Response:
    with path.open("rb") as f:
        return await api.post(
            f"/orgs/{org}/members/imports",
            params={"wait": str(wait).lower()},
            files={"file": (name or path.name, f.read())},
            headers=auth(token),
        )


async def imported(api: httpx.AsyncClient, token: str, org: str, path: Path) -> dict[str, Any]:
    r = await upload(api, token, org, path)
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    assert body["status"] == "completed", body
    return body


async def call(api: httpx.AsyncClient, token: str, method: str, url: str, expect: int, **kw: Any) -> Any:
    """A request as ``token``'s user; asserts the status and returns the JSON answer."""
    r = await api.request(method, url, headers=auth(token), **kw)
    assert r.status_code == expect, r.text
    return r.json()


async def until(api: httpx.AsyncClient, token: str, url: str, status: str, seconds: float = 30) -> dict[str, Any]:
    """Poll ``url`` until its ``status`` is ``status``."""
    deadline = time.monotonic() + seconds
    while True:
        view: dict[str, Any] = (await api.get(url, headers=auth(token))).json()
        if view["status"] == status:
            return view
        assert time.monotonic() < deadline, view
        await asyncio.sleep(0.1)


async def decide(api: httpx.AsyncClient, token: str, url: str, path: str, expect: int = 200, **body: Any) -> Any:
    """A decision as its maker sends it: on the view they read at ``url`` now, naming its ``step``."""
    step = (await call(api, token, "GET", url, 200))["step"]
    return await call(api, token, "POST", f"{url}{path}", expect, json={**body, "step": step})
