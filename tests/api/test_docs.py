"""The docs pages work offline: /docs and /redoc refer only to this service's own URLs, and each
of them answers with its JavaScript, stylesheet or image; the documents' font is served too."""

from __future__ import annotations

import re

import httpx

from documents.notices import FONT_URL

_REFERENCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\s*:\s*['"]([^'"]+)['"]|spec-url=["']([^"']+)""")
TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}


def _references(page: str) -> list[str]:
    return [next(g for g in m.groups() if g) for m in _REFERENCES.finditer(page)]


async def _check_page(api: httpx.AsyncClient, path: str, expected: int) -> None:
    page = await api.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "cdn" not in page.text.lower() and "googleapis" not in page.text
    urls = _references(page.text)
    assert len(urls) >= expected, urls
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), f"{path} refers to {url}"
        answer = await api.get(url)
        assert answer.status_code == 200, url
        suffix = url[url.rfind(".") :]
        assert TYPES[suffix] in answer.headers["content-type"], (url, answer.headers["content-type"])
        assert len(answer.content) > 400


async def test_swagger_ui_is_served_from_this_service(api: httpx.AsyncClient) -> None:
    await _check_page(api, "/docs", expected=4)  # the script, the stylesheet, the icon, the spec
    page = (await api.get("/docs")).text
    assert '"validatorUrl": null' in page  # no badge fetched from the online validator
    assert (await api.get("/docs/oauth2-redirect")).status_code == 200


async def test_redoc_is_served_from_this_service(api: httpx.AsyncClient) -> None:
    await _check_page(api, "/redoc", expected=3)  # the script, the icon, the spec
    assert "fonts.googleapis.com" not in (await api.get("/redoc")).text


async def test_the_assets_carry_their_licences(api: httpx.AsyncClient) -> None:
    for url in ("/static/swagger-ui/LICENSE", "/static/redoc/LICENSE", "/static/fonts/LICENSE-Apache-2.0.txt"):
        answer = await api.get(url)
        assert answer.status_code == 200 and "License" in answer.text, url
    font = await api.get(FONT_URL)
    assert font.status_code == 200 and font.content[:4] == b"\x00\x01\x00\x00"  # a TrueType font
    missing = await api.get("/static/swagger-ui/nothing.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
