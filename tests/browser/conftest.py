"""Pages in a real browser: Debian's Chromium driven by Playwright (never `playwright install`,
which downloads a browser), against the API process the test serves on a real port, with the
worker, Temporal, PostgreSQL and the bank simulator of the suite. Every page a journey visits is
saved as a screenshot in a folder the test prints."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SHOTS = Path(__file__).resolve().parents[2] / ".data" / "screenshots"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        await launched.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    print(f"\nscreenshots of every page visited: {SHOTS}")
    return SHOTS


@pytest.fixture(scope="session")
def demo_users(data_dir: Path, tokens: dict[str, str]) -> dict[str, dict[str, str]]:
    """The demo users by role@org, with their login and password (the seeder sets them)."""
    saved: list[dict[str, Any]] = json.loads((data_dir / "demo-tokens.json").read_text(encoding="utf-8"))
    return {f"{u['role']}@{u['org']}": u for u in saved}


class Visit:
    """A person at the browser: every page they reach is photographed, in order."""

    def __init__(self, page: Page, base: str, shots: Path, journey: str) -> None:
        self.page, self.base, self.shots, self.journey, self.n = page, base, shots, journey, 0

    async def shot(self, what: str) -> None:
        self.n += 1
        name = re.sub(r"[^\w-]+", "-", f"{self.journey}-{self.n:02d}-{what}")
        await self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    async def go(self, path: str, what: str) -> None:
        await self.page.goto(self.base + path)
        await self.shot(what)

    async def sign_in(self, login: str, password: str) -> None:
        await self.page.goto(self.base + "/")
        await self.page.get_by_label("登录名").fill(login)
        await self.page.get_by_label("密码").fill(password)
        await self.shot(f"sign-in-{login}")
        await self.page.get_by_role("button", name="登录").click()
        await self.page.wait_for_load_state()
        await self.shot(f"home-{login}")

    async def sign_out(self) -> None:
        await self.page.get_by_role("button", name="退出").click()
        await self.page.wait_for_load_state()


@pytest.fixture
async def person(browser: Browser, live_api: str, shots: Path, request: pytest.FixtureRequest) -> AsyncIterator[Visit]:
    context = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = await context.new_page()
    yield Visit(page, live_api, shots, request.node.name.removeprefix("test_")[:40])
    await context.close()
