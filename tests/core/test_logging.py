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
