"""Documents render the same everywhere: the notice PDF embeds the font program of its Chinese
text (TrueType, FontFile2), its text is extractable, and it renders to an image with ink where
the text is, here, on a machine with no Chinese font installed."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pypdf
import pypdfium2 as pdfium  # type: ignore[import-untyped]
from PIL import Image

from documents.notices import FONT_FILE, notice_pdf, unprintable
from tests.core.test_notices import seed_notice


def _fonts(pdf: bytes) -> list[dict[str, Any]]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    out = []
    for page in reader.pages:
        resources: Any = page["/Resources"]
        for ref in resources["/Font"].values():
            font = ref.get_object()
            descriptor = font.get("/FontDescriptor")
            out.append({"name": str(font["/BaseFont"]), "subtype": str(font["/Subtype"]), "d": descriptor})
    return out


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def _render(pdf: bytes, target: Path) -> Image.Image:
    doc = pdfium.PdfDocument(pdf)
    try:
        assert len(doc) == 1
        image: Image.Image = doc[0].render(scale=1.5).to_pil().convert("L")
    finally:
        doc.close()
    image.save(target)  # to look at
    return image


def _ink(image: Image.Image, top: float, bottom: float) -> int:
    """Dark pixels in a horizontal band of the page (fractions of its height)."""
    w, h = image.size
    band = image.crop((0, int(h * top), w, int(h * bottom)))
    return sum(band.histogram()[:128])


def test_the_chinese_text_is_in_an_embedded_truetype_font() -> None:
    pdf = notice_pdf(seed_notice())
    embedded = [f for f in _fonts(pdf) if f["d"] is not None]
    assert embedded, "no embedded font"
    for font in embedded:
        assert font["name"].endswith("+WenQuanYiMicroHei")  # a subset of the shipped font
        assert font["subtype"] == "/TrueType"
        program = font["d"].get_object()["/FontFile2"].get_object().get_data()
        assert len(program) > 1000
    assert all(f["name"] == "/Helvetica" for f in _fonts(pdf) if f["d"] is None)  # reportlab's unused default
    text = _text(pdf)
    assert "参保告知书" in text
    assert "上海建朗科技信息有限公司工会委员会" in text
    assert "盖章处" in text
    assert "enrollment" not in text
    assert FONT_FILE.stat().st_size < 3_500_000  # the shipped subset stays small


def test_names_outside_gb2312_print_and_only_the_extension_blocks_are_refused(tmp_path: Path) -> None:
    """GBK's rarer name characters (堃, 喆, 昇, 珺) are in the font and print; a character of a CJK
    extension block (𠮷) is not, so it is refused where it is typed (services.orgs.require_printable)."""
    assert unprintable("王堃喆昇珺工会（上海）①") == ""
    assert unprintable("𠮷野家 𠮷 工会") == "𠮷"
    pdf = notice_pdf(replace(seed_notice(), addressee="上海堃喆昇珺科技有限公司工会"))
    assert "上海堃喆昇珺科技有限公司工会" in _text(pdf)
    _render(pdf, tmp_path / "rare.png")  # to look at


def test_the_notice_renders_with_its_text_and_seal(tmp_path: Path) -> None:
    image = _render(notice_pdf(seed_notice()), tmp_path / "notice.png")
    assert _ink(image, 0.08, 0.12) > 300  # the title 参保告知书
    assert _ink(image, 0.17, 0.35) > 5000  # the letter's paragraph
    assert _ink(image, 0.5, 0.7) > 800  # the issuer, the date and the seal's circle
    assert _ink(image, 0.8, 1.0) == 0  # no footer

