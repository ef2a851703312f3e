"""The type of an uploaded document, read from its first bytes, never taken from what the sender says."""

from __future__ import annotations

from core.errors import Invalid

# The signatures of the documents a clerk may upload (PDF, JPEG, PNG) and nothing else.
SIGNATURES = {
    "application/pdf": b"%PDF-",
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
}
ALLOWED = frozenset(SIGNATURES)


def sniffed_type(body: bytes) -> str | None:
    """The type ``body`` begins as, or None for anything else (HTML, SVG, a script, an archive...)."""
    return next((kind for kind, signature in SIGNATURES.items() if body.startswith(signature)), None)


def checked_type(body: bytes, declared: str | None, what: str, code: str) -> str:
    """The declared type when the bytes are that type; otherwise a 422 ``<code>_content`` (not a PDF,
    JPEG or PNG at all) or ``<code>_type_mismatch`` (another of them than declared)."""
    found = sniffed_type(body)
    if found is None:
        raise Invalid(
            f"{code}_content",
            f"{what}的内容不是 PDF、JPEG 或 PNG 文件，请上传扫描件或照片原件",
            details={"field": "file"},
        )
    if found != (declared or "").split(";")[0].strip().lower():
        raise Invalid(
            f"{code}_type_mismatch",
            f"{what}的内容是 {found}，与声明的类型 {declared or '（未声明）'} 不符",
            details={"field": "file", "declared": declared, "found": found},
        )
    return found
