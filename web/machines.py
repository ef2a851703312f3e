"""A state machine drawn as SVG from its declaration in ``workflows/machines.py`` (never a copy by
hand): states in columns by their distance from the initial state, every transition an arrow,
the current state marked; labels are the states' and events' Chinese labels."""

from __future__ import annotations

from collections import deque
from html import escape

from models.states import STATUSES, event_label, label_of
from workflows.machines import MACHINES

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 118, 34, 58, 22, 12


def _levels(machine: str) -> dict[str, int]:
    """Each state's distance from the initial state (states not reached go last)."""
    cls = MACHINES[machine]
    states = list(cls.states)
    start = next(s for s in states if s.initial)
    level = {start.value: 0}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        for t in state.transitions:
            if t.target.value not in level:
                level[t.target.value] = level[state.value] + 1
                queue.append(t.target)
    last = max(level.values(), default=0) + 1
    return {s.value: level.get(s.value, last) for s in states}


def machine_svg(machine: str, current: str | None = None) -> str:
    """The machine ``machine`` (e.g. "claim") as an inline SVG, ``current`` (a status code) marked."""
    cls = MACHINES[machine]
    statuses = STATUSES[machine]
    levels = _levels(machine)
    columns: dict[int, list[str]] = {}
    for state in cls.states:
        columns.setdefault(levels[state.value], []).append(state.value)
    pos: dict[str, tuple[int, int]] = {}
    for col, values in columns.items():
        for row, value in enumerate(values):
            pos[value] = (PAD + col * (BOX_W + GAP_X), PAD + row * (BOX_H + GAP_Y))
    width = PAD * 2 + len(columns) * (BOX_W + GAP_X) - GAP_X
    height = PAD * 2 + max(len(v) for v in columns.values()) * (BOX_H + GAP_Y) - GAP_Y
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="machine" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="状态图">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5b6b7f"/></marker></defs>',
    ]
    for state in cls.states:
        x1, y1 = pos[state.value]
        for t in state.transitions:
            if t.target.value == state.value:
                continue  # staying in the state: shown by the timeline, not an arrow
            x2, y2 = pos[t.target.value]
            ax: float
            ay: float
            bx: float
            by: float
            ax, ay = (x1 + BOX_W, y1 + BOX_H / 2) if x2 > x1 else (x1, y1 + BOX_H / 2)
            bx, by = (x2, y2 + BOX_H / 2) if x2 > x1 else (x2 + BOX_W, y2 + BOX_H / 2)
            if x2 == x1:
                ax, ay, bx, by = (
                    x1 + BOX_W / 2,
                    y1 + (BOX_H if y2 > y1 else 0),
                    x2 + BOX_W / 2,
                    y2 + (0 if y2 > y1 else BOX_H),
                )
            title = escape(event_label(t.event))
            parts.append(
                f'<line x1="{ax:.0f}" y1="{ay:.0f}" x2="{bx:.0f}" y2="{by:.0f}" class="edge" '
                f'marker-end="url(#arrow)"><title>{title}</title></line>'
            )
    for state in cls.states:
        x, y = pos[state.value]
        kind = "current" if state.value == current else "final" if state.final else "state"
        text = escape(label_of(statuses, state.value))
        parts.append(
            f'<g class="{kind}" data-state="{state.value}"><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" '
            f'rx="8"/><text x="{x + BOX_W / 2:.0f}" y="{y + BOX_H / 2 + 5:.0f}" text-anchor="middle">{text}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
