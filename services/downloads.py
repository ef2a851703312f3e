"""A file a service hands out (a notice, a voucher, a statistics sheet): its bytes, type and name."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel


class Download(BaseModel):
    """What is answered: ``filename`` set, it is an attachment; none, it is shown (an HTML letter)."""

    content: bytes
    media_type: str
    filename: str | None = None

    def headers(self) -> dict[str, str]:
        return {"Content-Disposition": f"attachment; filename={self.filename}"} if self.filename else {}


def letter(html: Callable[[], str], pdf: Callable[[], bytes] | None, filename: str) -> Download:
    """A letter (告知书) shown as HTML, or, when ``pdf`` renders it, a PDF attachment named ``filename``."""
    if pdf is not None:
        return Download(content=pdf(), media_type="application/pdf", filename=filename)
    return Download(content=html().encode(), media_type="text/html; charset=utf-8")
