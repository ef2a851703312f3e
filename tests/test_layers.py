"""The floors of the house (DESIGN.md, Layout), read from every import of the source, imports
inside functions included: nothing imports a floor above its own; the programme's rules and the
documents import no framework; the JSON API and the bank simulator are separate apps."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOORS = {
    "models": 0, "rules": 0,
    "documents": 1, "core": 1,
    "workflows": 2,
    "activities": 3,
    "services": 4,
    "api": 5, "web": 5, "bank_sim": 5,
    "cli": 6, "worker": 6,
}  # fmt: skip
FRAMEWORKS = {"fastapi", "starlette", "sqlmodel", "sqlalchemy", "psycopg", "temporalio", "uvicorn", "httpx", "jinja2"}
APART = {("api", "bank_sim"), ("bank_sim", "api"), ("web", "bank_sim"), ("bank_sim", "web")}


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def sources() -> list[tuple[str, Path]]:
    out = [("worker", ROOT / "worker.py")]
    for package in FLOORS:
        folder = ROOT / package
        if folder.is_dir():
            out += [(package, p) for p in sorted(folder.rglob("*.py")) if "migrations" not in p.parts]
    return out


def test_no_floor_imports_one_above_it() -> None:
    wrong = []
    for package, path in sources():
        for line, imported in imports(path):
            if imported in FLOORS and FLOORS[imported] > FLOORS[package]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {imported} (floor {FLOORS[imported]})")
            if (package, imported) in APART:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {imported}: a separate app")
    assert wrong == []


def test_rules_and_documents_import_no_framework() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {imported}"
        for package, path in sources()
        if package in ("rules", "documents")
        for line, imported in imports(path)
        if imported in FRAMEWORKS
    ]
    assert wrong == []


def test_every_source_package_has_a_floor() -> None:
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} - {"tests", "benchmarks"}
    assert packages <= set(FLOORS), packages - set(FLOORS)
    assert len(sources()) > 120  # the walk found the source


# What a route does not do itself (services do): SQL, Temporal calls, authorisation.
_NOT_IN_ROUTES_IMPORTS = {"sqlmodel": {"select", "col", "or_"}, "sqlalchemy": None, "psycopg": None}
_NOT_IN_ROUTES_CALLS = {"run_update", "start_workflow", "start_with_update", "require", "require_role", "load_in_scope"}
_HANDLES = {"session", "conn", "connection", "db", "temporal", "client"}


def route_violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            if top in _NOT_IN_ROUTES_IMPORTS:
                names = _NOT_IN_ROUTES_IMPORTS[top]
                bad = [a.name for a in node.names if names is None or a.name in names]
                found += [f"{node.lineno}: imports {node.module}.{n}" for n in bad]
        elif isinstance(node, ast.Import):
            found += [f"{node.lineno}: imports {a.name}" for a in node.names if a.name in _NOT_IN_ROUTES_IMPORTS]
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in _NOT_IN_ROUTES_CALLS:
                found.append(f"{node.lineno}: calls {func.id}")
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in _HANDLES:
                found.append(f"{node.lineno}: calls {func.value.id}.{func.attr}")
    return found


def test_routes_only_parse_call_a_service_and_answer() -> None:
    wrong = {
        str(path.relative_to(ROOT)): found
        for path in sorted((ROOT / "api" / "routes").glob("*.py"))
        if (found := route_violations(path))
    }
    assert wrong == {}
