import json
import logging

import pytest
import structlog

from core.logging import configure_logging, get_logger, scrub


def test_scrub_masks_ids_and_phones_but_not_other_numbers() -> None:
    text = "id 11010519491231002X phone 13812345678 member 1010000001 amount 30000"
    out = scrub(text)
    assert "11010519491231002X" not in out and "110105********002X" in out
    assert "13812345678" not in out and "138****5678" in out
    assert "1010000001" in out and "30000" in out


def test_every_log_line_is_scrubbed(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    try:
        structlog.contextvars.bind_contextvars(request_id="r1")
        get_logger("t").info("looked up 11010519491231002X", phone="13812345678", nested={"id": "11010519491231002X"})
        logging.getLogger("uvicorn.error").warning("stdlib says 13900001111")
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    finally:
        structlog.contextvars.clear_contextvars()
        logging.getLogger().handlers.clear()
    assert len(lines) == 2
    dump = json.dumps(lines, ensure_ascii=False)
    assert "11010519491231002X" not in dump and "13812345678" not in dump and "13900001111" not in dump
    assert lines[0]["request_id"] == "r1" and lines[0]["phone"] == "138****5678"


def test_scrub_leaves_hex_ids_whole() -> None:
    request_id = "5e0c13812345678a9f0b2c4d6e8f0a1b"  # uuid4 hex with an 11-digit run 138…
    run_id = "0193a1b2-c3d4-4e5f-8a9b-a13812345678"
    for text in (request_id, run_id, f"workflow claim-7 run {run_id}", f"id={request_id}"):
        assert scrub(text) == text
    # A phone beside a hex id, or inside an id that is not a whole hex id, is still masked.
    assert scrub(f"{request_id} 13812345678") == f"{request_id} 138****5678"
    assert scrub("req-13812345678") == "req-138****5678"
    assert scrub(f"{request_id}13812345678").count("138****5678") == 2  # 43 characters: no hex id


def test_ids_in_context_fields_are_not_mangled(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    request_id = "0f2a19912345678e4c3b2a1d0e9f8c7b"
    run_id = "0193a1b2-c3d4-4e5f-8a9b-b19912345678"
    try:
        structlog.contextvars.bind_contextvars(request_id=request_id, run_id=run_id)
        get_logger("t").info("request", phone=13812345678)
        (line,) = [json.loads(out) for out in capsys.readouterr().out.splitlines() if out.startswith("{")]
    finally:
        structlog.contextvars.clear_contextvars()
        logging.getLogger().handlers.clear()
    assert line["request_id"] == request_id and line["run_id"] == run_id
    assert line["phone"] == "138****5678"  # a phone passed as a number is masked too
