"""Bar charts drawn as SVG by us (no chart library, no CDN): one bar per stage with its count, each
bar's whole column a link to the list behind it (a bar of one among hundreds is still easy to hit)."""

from __future__ import annotations

from html import escape

BAR_W, GAP, HEIGHT, TOP, BOTTOM = 64, 18, 180, 20, 40


def bar_chart(bars: list[tuple[str, str, int]], label: str) -> str:
    """``bars``: (anchor, label, count) in order; the tallest bar is the chart's full height."""
    most = max((n for _, _, n in bars), default=0) or 1
    width = len(bars) * (BAR_W + GAP) + GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {HEIGHT + TOP + BOTTOM}" '
        f'width="{width}" height="{HEIGHT + TOP + BOTTOM}" role="img" aria-label="{escape(label)}">'
    ]
    for i, (anchor, text, n) in enumerate(bars):
        x = GAP + i * (BAR_W + GAP)
        h = round(HEIGHT * n / most)
        y = TOP + HEIGHT - h
        parts.append(
            f'<a href="#{escape(anchor)}" data-stage="{escape(anchor)}" data-count="{n}">'
            f"<title>{escape(text)}：{n}</title>"
            f'<rect class="hit" x="{x}" y="0" width="{BAR_W}" height="{HEIGHT + TOP + BOTTOM}"/>'
            f'<rect class="bar" x="{x}" y="{y}" width="{BAR_W}" height="{max(h, 1)}" rx="3"/>'
            f'<text x="{x + BAR_W / 2:.0f}" y="{y - 4}" text-anchor="middle" class="count">{n}</text>'
            f'<text x="{x + BAR_W / 2:.0f}" y="{TOP + HEIGHT + 18}" text-anchor="middle">{escape(text)}</text></a>'
        )
    parts.append("</svg>")
    return "".join(parts)
