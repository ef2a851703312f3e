"""A file a service hands out (a notice, a voucher, a statistics sheet): its bytes, type and name."""

from __future__ import annotations

from pydantic import BaseModel


class Download(BaseModel):
    """What is answered: ``filename`` set, it is an attachment; none, it is shown (an HTML letter)."""

    content: bytes
    media_type: str
    filename: str | None = None

    def headers(self) -> dict[str, str]:
        return {"Content-Disposition": f"attachment; filename={self.filename}"} if self.filename else {}
