"""The state diagrams drawn from ``workflows/machines.py``: every state once, every transition an
arrow, no two boxes overlapping and no line running through a box (or its label) it does not
start or end at; the current state marked."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest

from web.machines import BOX_H, BOX_W, machine_graph, machine_svg, main_line
from workflows.machines import MACHINES

Box = tuple[float, float, float, float]


def boxes(svg: str) -> dict[str, Box]:
    found = re.findall(r'<g class="\w+" data-state="(\w+)"><rect x="(\d+)" y="(\d+)"', svg)
    return {state: (float(x), float(y), float(x) + BOX_W, float(y) + BOX_H) for state, x, y in found}


def segments(d: str) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    points = [(float(x), float(y)) for x, y in re.findall(r"[ML](-?[\d.]+),(-?[\d.]+)", d)]
    return list(pairwise(points))


def crosses(seg: tuple[tuple[float, float], tuple[float, float]], box: Box) -> bool:
    """An axis-parallel segment through the inside of a box (touching its edge is not crossing)."""
    (x1, y1), (x2, y2) = seg
    left, top, right, bottom = box
    if x1 == x2:
        return left < x1 < right and min(y1, y2) < bottom and max(y1, y2) > top
    return top < y1 < bottom and min(x1, x2) < right and max(x1, x2) > left


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_every_state_and_transition_is_drawn_and_no_line_crosses_a_box(machine: str) -> None:
    graph = machine_graph(machine)
    svg = machine_svg(machine, graph.states[1])
    drawn = boxes(svg)
    assert sorted(drawn) == sorted(graph.states)
    placed = list(drawn.items())
    for i, (a, (l1, t1, r1, b1)) in enumerate(placed):
        for b, (l2, t2, r2, b2) in placed[i + 1 :]:
            assert r1 <= l2 or r2 <= l1 or b1 <= t2 or b2 <= t1, (machine, a, b)  # no two boxes overlap
    paths = re.findall(r'<path d="([^"]+)" class="edge"[^>]*data-from="(\w+)" data-to="(\w+)"', svg)
    assert {(s, t) for _, s, t in paths} == set(graph.edges)
    for d, s, t in paths:
        for seg in segments(d):
            for state, box in drawn.items():
                if state not in (s, t):
                    assert not crosses(seg, box), (machine, s, t, state)
    assert f'<g class="current" data-state="{graph.states[1]}">' in svg


def test_the_enrollment_reads_down_its_main_line() -> None:
    assert main_line(machine_graph("enrollment")) == [
        "draft", "submitted", "secondary_review", "district_review", "approved", "paid", "filed", "completed",
        "expired",
    ]  # fmt: skip
    assert main_line(machine_graph("claim"))[-1] == "paid"  # of two runs as long, the one ending in a final state
