"""Member imports over HTTP against PostgreSQL and a Temporal dev server with a real worker."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
from openpyxl import load_workbook
from temporalio.client import Client

from core.db import Database
from documents.fake_members import HEADERS, member_rows, write_csv, write_xlsx
from tests.api.helpers import imported, upload
from tests.conftest import auth
from tests.workflows.recording import record

CLERK = "clerk@101-0001"
ORG = "101-0001"


def count_members(db: Database, org_code: str) -> int:
    with db.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM members m JOIN organisations o ON o.id = m.org_id WHERE o.code = %s", (org_code,)
        ).fetchone()
        assert row is not None
        return int(row[0])


async def test_csv_import_commits_every_valid_row_and_reports_every_bad_one(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, temporal_client: Client
) -> None:
    rows = list(member_rows(120, seed=11))  # 3 chunks of 50 in the test settings
    rows[10][HEADERS.index("手机号码")] = "1234"
    rows[75][HEADERS.index("证件有效期至")] = "2001-01-01"
    rows[119][HEADERS.index("工作单位详细地址")] = "黄浦区"
    before = count_members(db, ORG)
    body = await imported(api, tokens[CLERK], ORG, write_csv(tmp_path / "m.csv", rows))
    assert (body["processed_rows"], body["accepted"], body["rejected_rows"]) == (120, 117, 3)
    assert body["progress"] == 1.0
    assert count_members(db, ORG) == before + 117
    await record(temporal_client, f"member-import-{body['id']}", "MemberImportWorkflow--with-rejected-rows")
    errors = {(e["row"], e["column"], e["code"]) for e in body["errors"]}
    assert errors == {
        (12, "手机号码", "invalid_phone"),  # header is row 1, rows[10] is row 12
        (77, "证件有效期至", "id_expired"),
        (121, "工作单位详细地址", "work_address_too_short"),
    }
    assert all(e["message"] for e in body["errors"])


async def test_importing_the_same_file_twice_adds_nothing(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "m.csv", list(member_rows(60, seed=12)))
    first = await imported(api, tokens[CLERK], ORG, path)
    assert first["accepted"] == 60
    count = count_members(db, ORG)
    second = await imported(api, tokens[CLERK], ORG, path)
    assert (second["accepted"], second["existing"], second["rejected_rows"]) == (0, 60, 0)
    assert count_members(db, ORG) == count


async def test_member_numbers_are_ten_digits_with_the_district_code_and_unique(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    await imported(api, tokens[CLERK], ORG, write_csv(tmp_path / "m.csv", list(member_rows(30, seed=13))))
    await imported(
        api, tokens["clerk@104-0001"], "104-0001", write_csv(tmp_path / "n.csv", list(member_rows(30, seed=14)))
    )
    with db.connect() as conn:
        rows = conn.execute("SELECT member_no, district_code FROM members").fetchall()
    numbers = [r[0] for r in rows]
    assert len(numbers) == len(set(numbers))
    assert all(len(n) == 10 and n.isdigit() and n[:3] == d for n, d in rows)
    assert {d for _, d in rows} >= {"101", "104"}


async def test_gbk_and_bom_csv_files(api: httpx.AsyncClient, tokens: dict[str, str], tmp_path: Path) -> None:
    for seed, encoding in ((15, "gbk"), (16, "utf-8-sig")):
        rows = list(member_rows(5, seed=seed))
        body = await imported(api, tokens[CLERK], ORG, write_csv(tmp_path / f"{encoding}.csv", rows, encoding))
        assert body["accepted"] == 5, body
        page = (await api.get(f"/orgs/{ORG}/members", params={"q": rows[0][0]}, headers=auth(tokens[CLERK]))).json()
        assert rows[0][0] in {m["name"] for m in page["items"]}  # the Chinese name survived the encoding


async def test_xlsx_import(api: httpx.AsyncClient, tokens: dict[str, str], tmp_path: Path) -> None:
    rows = list(member_rows(40, seed=17))
    number = rows[3][HEADERS.index("证件号码")]
    rows[3][HEADERS.index("证件号码")] = number[:-1] + ("1" if number[-1] != "1" else "2")  # wrong check digit
    body = await imported(api, tokens[CLERK], ORG, write_xlsx(tmp_path / "m.xlsx", rows))
    assert body["file_format"] == "xlsx"
    assert (body["processed_rows"], body["accepted"], body["rejected_rows"]) == (40, 39, 1)
    assert [(e["row"], e["code"]) for e in body["errors"]] == [(5, "id_number_checksum")]


async def test_duplicates_inside_a_file_across_chunks(
    api: httpx.AsyncClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    rows = list(member_rows(80, seed=18))
    rows[70] = list(rows[5])  # same person again, in a later chunk
    rows[71][HEADERS.index("手机号码")] = rows[6][HEADERS.index("手机号码")]  # a phone already used in the file
    rows[8][HEADERS.index("手机号码")] = rows[7][HEADERS.index("手机号码")]  # inside one chunk
    body = await imported(api, tokens[CLERK], ORG, write_csv(tmp_path / "d.csv", rows))
    errors = {(e["row"], e["code"]): e["message"] for e in body["errors"]}
    assert errors.keys() == {(72, "duplicate_in_file"), (73, "duplicate_in_file"), (10, "duplicate_in_file")}
    assert "第7行" in errors[(72, "duplicate_in_file")]
    assert "第8行" in errors[(73, "duplicate_in_file")]
    assert body["accepted"] == 77


async def test_phone_of_another_member_and_member_of_another_union(
    api: httpx.AsyncClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    rows = list(member_rows(3, seed=19))
    await imported(api, tokens[CLERK], ORG, write_csv(tmp_path / "a.csv", rows))
    other = list(member_rows(2, seed=20))
    other[0][HEADERS.index("手机号码")] = rows[0][HEADERS.index("手机号码")]
    other[1] = list(rows[1])  # already a member of 101-0001
    body = await imported(api, tokens["clerk@104-0001"], "104-0001", write_csv(tmp_path / "b.csv", other))
    codes = {e["code"] for e in body["errors"]}
    assert codes == {"phone_taken", "member_of_other_union"}
    assert body["accepted"] == 0


async def test_bad_files_get_422_and_import_nothing(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    before = count_members(db, ORG)
    cases = {
        "notes.pdf": (b"%PDF-1.7 ...", "unsupported_file"),
        "empty.csv": (b"", "empty_file"),
        "old.xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "unsupported_file"),
        "short.csv": ("姓名,证件号码\n张三,1\n".encode(), "missing_columns"),
        "header-only.csv": (",".join(HEADERS).encode(), "empty_file"),
    }
    for name, (content, code) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        r = await upload(api, tokens[CLERK], ORG, path)
        assert r.status_code == 422, (name, r.text)
        assert r.json()["error"]["code"] == code
        assert r.json()["error"]["message"]
    assert count_members(db, ORG) == before


async def test_unsupported_union_types_and_non_grassroots_are_refused(
    api: httpx.AsyncClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "m.csv", list(member_rows(2, seed=21)))
    r = await upload(api, tokens["admin@SH"], "104-0002", path)  # 工会联合会
    assert r.status_code == 409 and r.json()["error"]["code"] == "org_type_unsupported"
    r = await upload(api, tokens["admin@SH"], "101", path)
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_grassroots"


async def test_errors_xlsx_can_be_fixed_and_uploaded_again(
    api: httpx.AsyncClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    rows = list(member_rows(10, seed=22))
    good_phone = rows[4][HEADERS.index("手机号码")]
    rows[4][HEADERS.index("手机号码")] = "12345"
    body = await imported(api, tokens[CLERK], ORG, write_csv(tmp_path / "m.csv", rows))
    assert body["rejected_rows"] == 1
    r = await api.get(f"/imports/{body['id']}/errors.xlsx", headers=auth(tokens[CLERK]))
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws is not None
    table = [list(row) for row in ws.iter_rows(values_only=True)]
    assert table[0][-2:] == ["原行号", "错误原因"]
    assert len(table) == 2 and table[1][-2] == 6 and "手机号码" in str(table[1][-1])
    fixed = table[1][: len(HEADERS)]
    fixed[HEADERS.index("手机号码")] = good_phone
    out = io.StringIO()
    csv.writer(out).writerows([table[0][: len(HEADERS)], fixed])
    (tmp_path / "fixed.csv").write_text(out.getvalue(), encoding="utf-8")
    again = await imported(api, tokens[CLERK], ORG, tmp_path / "fixed.csv")
    assert (again["accepted"], again["rejected_rows"]) == (1, 0)


async def test_progress_without_waiting(api: httpx.AsyncClient, tokens: dict[str, str], tmp_path: Path) -> None:
    r = await upload(
        api, tokens[CLERK], ORG, write_csv(tmp_path / "m.csv", list(member_rows(200, seed=23))), wait=False
    )
    assert r.status_code == 202
    assert r.json()["status"] in ("queued", "running", "completed")
    done = (await api.get(f"/imports/{r.json()['id']}", params={"wait": "true"}, headers=auth(tokens[CLERK]))).json()
    assert done["status"] == "completed" and done["accepted"] == 200 and done["total_rows"] == 200


async def test_imports_are_audited_without_personal_data(
    api: httpx.AsyncClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    rows = list(member_rows(3, seed=24))
    body = await imported(api, tokens[CLERK], ORG, write_csv(tmp_path / "m.csv", rows))
    r = await api.get("/audit", params={"entity": f"member_import:{body['id']}"}, headers=auth(tokens["reviewer@101"]))
    actions = [a["action"] for a in r.json()]
    assert actions == ["member_import.completed", "member_import.started"]
    text = r.text
    assert all(
        row[HEADERS.index("证件号码")] not in text and row[HEADERS.index("手机号码")] not in text for row in rows
    )


async def test_text_with_backslashes_and_full_width_characters_survives(
    api: httpx.AsyncClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    rows = list(member_rows(2, seed=25))
    rows[0][HEADERS.index("联系地址")] = "上海市\\黄浦区\t南京东路１００号"
    rows[0][HEADERS.index("手机号码")] = "１３９ ００００ ５５５５"
    body = await imported(api, tokens[CLERK], ORG, write_csv(tmp_path / "m.csv", rows))
    assert body["accepted"] == 2, body
    page = await api.get(f"/orgs/{ORG}/members", params={"q": "13900005555"}, headers=auth(tokens[CLERK]))
    member = page.json()["items"][0]
    assert member["contact_address"] == "上海市\\黄浦区 南京东路100号"
    assert member["phone"] == "139****5555"


async def test_the_file_can_be_the_request_body(api: httpx.AsyncClient, tokens: dict[str, str], tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "m.csv", list(member_rows(7, seed=26)), "gbk")
    xlsx_path = write_xlsx(tmp_path / "m.xlsx", list(member_rows(4, seed=27)))
    for path, kind, accepted in ((csv_path, "text/csv", 7), (xlsx_path, "application/octet-stream", 4)):
        r = await api.post(
            f"/orgs/{ORG}/members/imports",
            params={"filename": path.name, "wait": "true"},
            content=path.read_bytes(),
            headers={**auth(tokens[CLERK]), "Content-Type": kind},
        )
        assert r.status_code == 202, r.text
        assert (r.json()["filename"], r.json()["accepted"]) == (path.name, accepted)
    r = await api.post(
        f"/orgs/{ORG}/members/imports", content=b"", headers={**auth(tokens[CLERK]), "Content-Type": "text/csv"}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "empty_file"
    r = await api.post(f"/orgs/{ORG}/members/imports", data={"x": "1"}, headers=auth(tokens[CLERK]))
    assert r.status_code == 422 and r.json()["error"]["code"] == "file_required"


async def test_a_tab_or_newline_inside_a_quoted_cell_stays_in_its_field(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    """Found: a tab inside an ASCII contact address went into the COPY text as it was, so the row's
    later fields shifted by one (the member was refused, or stored with the wrong values)."""
    rows = list(member_rows(3, seed=6411, phone_base=16_411_000_000))
    column = HEADERS.index("联系地址")
    rows[0][column] = "Room 5\tBuilding 2"
    rows[1][column] = "No. 7\nLane 3"
    rows[2][column] = "C:\\path"
    body = await imported(api, tokens[CLERK], ORG, write_csv(tmp_path / "m.csv", rows))
    assert (body["accepted"], body["rejected_rows"]) == (3, 0), body["errors"]
    numbers = [r[HEADERS.index("证件号码")] for r in rows]
    with db.connect() as conn:
        stored = dict(
            conn.execute(
                "SELECT id_number, contact_address FROM members WHERE id_number = ANY(%s)", (numbers,)
            ).fetchall()
        )
    assert [stored[n] for n in numbers] == ["Room 5\tBuilding 2", "No. 7\nLane 3", "C:\\path"]
