"""A state machine drawn as SVG from its declaration in ``workflows/machines.py`` (never a copy by
hand), top to bottom so it reads on a phone too: one state a row in the order the enum declares
them, the main line (the longest run of forward transitions from the initial state) in one
column with straight arrows, the other states in a second column; every other transition runs
along a lane of its own between the columns (the ones into one state share its lane, as do the
ones out of one), so no line crosses a state's box or its label. The current state is marked;
labels are the states' and events' Chinese labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from models.states import STATUSES, event_label, label_of
from workflows.machines import MACHINES

BOX_W, BOX_H, ROW_GAP, LANE, PAD = 124, 32, 14, 11, 10


@dataclass
class _Graph:
    states: list[str]
    initial: str
    finals: set[str]
    edges: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (from, to) -> event labels

    def row(self, state: str) -> int:
        return self.states.index(state)


def machine_graph(machine: str) -> _Graph:
    cls = MACHINES[machine]
    graph = _Graph(
        states=[s.value for s in cls.states],
        initial=next(s.value for s in cls.states if s.initial),
        finals={s.value for s in cls.states if s.final},
    )
    for state in cls.states:
        for t in state.transitions:
            if t.target.value != state.value:  # staying in the state: the timeline shows it, not an arrow
                graph.edges.setdefault((state.value, t.target.value), []).append(event_label(t.event))
    return graph


def main_line(graph: _Graph) -> list[str]:
    """The longest run of forward transitions (to a state declared later) from the initial state;
    of runs as long, one ending in a final state, then the one declared first."""
    best: dict[str, tuple[int, bool, list[str]]] = {}
    for state in reversed(graph.states):
        runs = [
            (best[t][0] + 1, best[t][1], [state, *best[t][2]])
            for (s, t) in graph.edges
            if s == state and graph.row(t) > graph.row(state)
        ]
        best[state] = max(runs, key=lambda r: (r[0], r[1]), default=(1, state in graph.finals, [state]))
    return best[graph.initial][2]


@dataclass
class _Group:
    """Transitions sharing one lane: all into one state, or all out of one."""

    channel: str  # left (back along the main line), middle (between the columns), right (beyond the second)
    key: tuple[str, str]  # ("to", state) or ("from", state)
    edges: list[tuple[str, str]]
    top: int = 0
    bottom: int = 0
    lane: int = 0


def _channel(graph: _Graph, line: list[str], s: str, t: str) -> str | None:
    """Where a transition runs: None for the main line's own straight arrows."""
    on_s, on_t = s in line, t in line
    if on_s and on_t:
        if line.index(t) == line.index(s) + 1:
            return None
        return "left" if graph.row(t) < graph.row(s) else "middle"
    return "middle" if on_s or on_t else "right"


def _groups(graph: _Graph, line: list[str]) -> list[_Group]:
    routed = [(e, c) for e in graph.edges if (c := _channel(graph, line, *e)) is not None]
    into = {(c, t): sum(1 for (_, t2), c2 in routed if (c2, t2) == (c, t)) for (_, t), c in routed}
    groups: dict[tuple[str, str, str], _Group] = {}
    for (s, t), c in routed:
        key = ("to", t) if into[(c, t)] > 1 else ("from", s)
        group = groups.setdefault((c, *key), _Group(channel=c, key=key, edges=[]))
        group.edges.append((s, t))
    for group in groups.values():
        rows = [graph.row(x) for e in group.edges for x in e]
        group.top, group.bottom = min(rows), max(rows)
    for channel in ("left", "middle", "right"):  # the fewest lanes: a lane holds groups whose rows do not meet
        taken: list[list[_Group]] = []
        for group in sorted(
            (g for g in groups.values() if g.channel == channel), key=lambda g: (g.bottom - g.top, g.top)
        ):
            free = next(
                (i for i, lane in enumerate(taken) if all(g.bottom < group.top or group.bottom < g.top for g in lane)),
                None,
            )
            if free is None:
                taken.append([])
                free = len(taken) - 1
            taken[free].append(group)
            group.lane = free
    return list(groups.values())


@dataclass
class _Layout:
    """Where everything goes: the columns' and lanes' x, each row's y, each box side's ports."""

    graph: _Graph
    line: list[str]
    groups: list[_Group]
    main_x: int = 0
    side_x: int = 0
    width: int = 0
    height: int = 0
    ports: dict[tuple[str, str], list[tuple[int, int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lanes = {c: 1 + max((g.lane for g in self.groups if g.channel == c), default=-1) for c in _CHANNELS}
        self.main_x = PAD + (lanes["left"] + 1) * LANE if lanes["left"] else PAD
        self.side_x = self.main_x + BOX_W + (lanes["middle"] + 1) * LANE
        right = self.side_x + BOX_W if any(s not in self.line for s in self.graph.states) else self.main_x + BOX_W
        self.width = right + ((lanes["right"] + 1) * LANE if lanes["right"] else 0) + PAD
        self.height = PAD * 2 + len(self.graph.states) * (BOX_H + ROW_GAP) - ROW_GAP
        for n, group in enumerate(self.groups):  # a box side's ports: one per group meeting it there
            for state in {x for e in group.edges for x in e}:
                self.ports.setdefault((state, self.side_of(state, group)), []).append((self.lane_x(group), n))

    def box_x(self, state: str) -> int:
        return self.main_x if state in self.line else self.side_x

    def top(self, state: str) -> int:
        return PAD + self.graph.row(state) * (BOX_H + ROW_GAP)

    def lane_x(self, group: _Group) -> int:
        if group.channel == "left":
            return self.main_x - (group.lane + 1) * LANE
        edge = self.main_x + BOX_W if group.channel == "middle" else self.side_x + BOX_W
        return edge + (group.lane + 1) * LANE

    def side_of(self, state: str, group: _Group) -> str:
        if group.channel == "middle":
            return "right" if state in self.line else "left"
        return group.channel

    def port_y(self, state: str, side: str, n: int) -> float:
        here = [m for _, m in sorted(self.ports[(state, side)])]
        return self.top(state) + BOX_H * (1 + here.index(n)) / (len(here) + 1)

    def path(self, n: int, s: str, t: str) -> str:
        """A routed transition: out of its box's side, along its group's lane, into the other's side."""
        group = self.groups[n]
        x, a_side, b_side = self.lane_x(group), self.side_of(s, group), self.side_of(t, group)
        ax = self.box_x(s) + (BOX_W if a_side == "right" else 0)
        bx = self.box_x(t) + (BOX_W if b_side == "right" else 0)
        ay, by = self.port_y(s, a_side, n), self.port_y(t, b_side, n)
        return f"M{ax},{ay:.1f} L{x},{ay:.1f} L{x},{by:.1f} L{bx},{by:.1f}"


_CHANNELS = ("left", "middle", "right")


def _edge(d: str, s: str, t: str, events: list[str]) -> str:
    title = escape("、".join(dict.fromkeys(events)))
    return (
        f'<path d="{d}" class="edge" fill="none" marker-end="url(#arrow)" data-from="{s}" data-to="{t}">'
        f"<title>{title}</title></path>"
    )


def machine_svg(machine: str, current: str | None = None) -> str:
    """The machine ``machine`` (e.g. "claim") as an inline SVG, ``current`` (a status code) marked."""
    graph = machine_graph(machine)
    line = main_line(graph)
    at = _Layout(graph, line, _groups(graph, line))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="machine" viewBox="0 0 {at.width} {at.height}" '
        f'width="{at.width}" height="{at.height}" role="img" aria-label="状态图">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5b6b7f"/></marker></defs>',
    ]
    cx = at.main_x + BOX_W / 2
    for (s, t), events in graph.edges.items():
        if _channel(graph, line, s, t) is None:  # the main line: straight down
            parts.append(_edge(f"M{cx:.0f},{at.top(s) + BOX_H} L{cx:.0f},{at.top(t)}", s, t, events))
    for n, group in enumerate(at.groups):  # a group's white halo first: it bridges the lines it crosses
        paths = [(at.path(n, s, t), s, t) for s, t in group.edges]
        parts += [f'<path d="{d}" class="halo" fill="none"/>' for d, _, _ in paths]
        parts += [_edge(d, s, t, graph.edges[(s, t)]) for d, s, t in paths]
    statuses = STATUSES[machine]
    for state in graph.states:
        x, y = at.box_x(state), at.top(state)
        kind = "current" if state == current else "final" if state in graph.finals else "state"
        text = escape(label_of(statuses, state))
        parts.append(
            f'<g class="{kind}" data-state="{state}"><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" '
            f'rx="8"/><text x="{x + BOX_W / 2:.0f}" y="{y + BOX_H / 2 + 4:.0f}" text-anchor="middle">{text}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
