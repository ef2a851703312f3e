"""Small helpers shared by the API tests."""

from __future__ import annotations

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
