"""Make the documents' font: WenQuanYi Micro Hei (Apache-2.0, TrueType outlines, Latin and CJK)
cut down to the characters the documents need, so that the repository ships a small file and
every PDF embeds it.

The set: printable ASCII, the GBK character set (its 21,886 characters: GB 2312's 6,763 hanzi
and the rarer ones names carry, such as 堃, 喆, 昇, 珺; punctuation and full-width forms), every
CJK Unified Ideograph of the basic block and the CJK punctuation block, as far as the font draws
them. Run it again only to change the set:

    python tools/subset_font.py wqy-microhei.ttc documents/fonts/WenQuanYiMicroHei-GBK.ttf

(the source file is in Debian's ``fonts-wqy-microhei``, its first font is taken from the
collection; fontTools is a dev dependency).
"""

from __future__ import annotations

import sys

from fontTools import subset  # type: ignore[import-untyped]


def gbk_characters() -> set[int]:
    """Every character GBK encodes in two bytes (lead 0x81-0xFE, trail 0x40-0xFE)."""
    out: set[int] = set()
    for lead in range(0x81, 0xFF):
        for trail in range(0x40, 0xFF):
            try:
                out.add(ord(bytes((lead, trail)).decode("gbk")))
            except UnicodeDecodeError:
                continue
    return out


def characters() -> set[int]:
    ascii_printable = set(range(0x20, 0x7F))
    cjk_punctuation = set(range(0x3000, 0x3040))
    fullwidth = set(range(0xFF01, 0xFF5F))
    unified = set(range(0x4E00, 0xA000))
    return ascii_printable | cjk_punctuation | fullwidth | unified | gbk_characters() | {0xA5, 0xB7, 0x2014, 0x2026}


def main(source: str, target: str) -> None:
    options = subset.Options()
    options.name_IDs = ["*"]  # keep the copyright and licence names
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False  # the PDF needs outlines, not screen hints
    options.layout_features = []
    options.font_number = 0  # WenQuanYi Micro Hei, not its Mono sibling
    font = subset.load_font(source, options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=characters())
    subsetter.subset(font)
    subset.save_font(font, target, options)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
