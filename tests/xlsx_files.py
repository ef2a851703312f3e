"""Workbooks written part by part, as a hostile or careless writer would: a zip of the few parts a
reader needs, whose sheet and shared strings are whatever bytes a test gives."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path

from documents.fake_members import HEADERS

_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
WORKBOOK = (
    f'<?xml version="1.0"?><workbook {_NS} xmlns:r="{_R}"><sheets>'
    '<sheet name="会员信息" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_R}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)

# The package's own parts, which a reader may insist on (calamine does): the package relationship
# to the workbook and the content types.
PACKAGE = {
    "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
    'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/></Types>',
}


def inline(ref: str, text: str) -> bytes:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'.encode()


def header_row() -> bytes:
    cells = b"".join(inline(f"{chr(65 + i)}1", h) for i, h in enumerate(HEADERS))
    return b'<row r="1">' + cells + b"</row>"


def write_parts(
    path: Path,
    rows: Iterable[bytes],
    *,
    dimension: str | None = None,
    strings: Iterable[bytes] | None = None,
) -> Path:
    """A workbook whose sheet is ``rows`` (chunks of XML, streamed into the zip: a part of 256 MB
    costs no memory) and, when given, whose shared strings are ``strings`` (chunks too)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in PACKAGE.items():
            z.writestr(name, text)
        z.writestr("xl/workbook.xml", WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", RELS)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            f.write(f'<?xml version="1.0"?><worksheet {_NS}>'.encode())
            if dimension:
                f.write(f'<dimension ref="{dimension}"/>'.encode())
            f.write(b"<sheetData>")
            for chunk in rows:
                f.write(chunk)
            f.write(b"</sheetData></worksheet>")
        if strings is not None:
            with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as f:
                f.write(f'<?xml version="1.0"?><sst {_NS}>'.encode())
                for chunk in strings:
                    f.write(chunk)
                f.write(b"</sst>")
    return path


def repeated(chunk: bytes, total: int) -> Iterable[bytes]:
    """``total`` bytes of ``chunk`` repeated, 1 MB at a time."""
    block = chunk * max(1, (1 << 20) // len(chunk))
    written = 0
    while written < total:
        piece = block[: total - written]
        written += len(piece)
        yield piece


def bomb(path: Path, size: int = 256 << 20, *, in_strings: bool = False) -> Path:
    """A small workbook with one cell of ``size`` bytes ("A" repeated), in the sheet or in its
    shared strings."""
    if in_strings:
        row = header_row() + b'<row r="2"><c r="A2" t="s"><v>0</v></c></row>'
        strings = [b"<si><t>", *repeated(b"A", size), b"</t></si>"]
        return write_parts(path, [row], strings=strings)
    cell = [b'<row r="2"><c r="A2" t="inlineStr"><is><t>', *repeated(b"A", size), b"</t></is></c></row>"]
    return write_parts(path, [header_row(), *cell])
