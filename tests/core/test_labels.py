"""Every word a person reads is Chinese: each enum value and workflow event has its label, refusals
name states and events by them, and every kind of validation error a request body can cause has
a Chinese text."""

from __future__ import annotations

import importlib
import pkgutil
import re
from enum import StrEnum
from typing import Any

import pydantic
import pytest

import models
import models.states as states
from api import routes
from api.door import _MESSAGES, message, refusal
from models.inputs import RequestBody
from models.states import STATUSES
from workflows.machines import MACHINES, refusal_text

ENGLISH = re.compile(r"[A-Za-z]{4,}")  # a code like "B+" or "MB" may stand in a text; words may not


def _enums() -> list[type[StrEnum]]:
    return [v for v in vars(states).values() if isinstance(v, type) and issubclass(v, StrEnum) and v is not StrEnum]


@pytest.mark.parametrize("enum", _enums(), ids=lambda e: e.__name__)
def test_every_enum_value_has_a_chinese_label(enum: type[StrEnum]) -> None:
    labels = states.LABELS.get(enum, {})
    assert set(labels) == {m.value for m in enum}
    assert all(re.search("[\u4e00-\u9fff]", text) for text in labels.values()), labels
    assert states.label(next(iter(enum))) == labels[next(iter(enum)).value]


def test_every_workflow_event_and_status_has_a_label() -> None:
    events = {e.id for machine in MACHINES.values() for e in machine().events}
    assert events - set(states.EVENT_LABELS) == set()
    assert set(STATUSES) == set(MACHINES)


def test_a_refusal_names_the_state_and_the_event_in_chinese() -> None:
    assert refusal_text("filed", "cancel", "enrollment") == "当前状态为“已提交职保中心”，不能取消"
    assert refusal_text("pending", "request_revocation", subject="批次") == "批次当前状态为“待办”，不能申请撤销"
    assert refusal_text("approved", "approve_voucher", "district_filing") == "当前状态为“已审核通过”，不能通过缴费凭证"


def _bodies() -> list[type[RequestBody]]:
    names = [f"api.routes.{m.name}" for m in pkgutil.iter_modules(routes.__path__)]
    names += [f"models.{m.name}" for m in pkgutil.iter_modules(models.__path__)]
    found: dict[str, type[RequestBody]] = {}
    for module in map(importlib.import_module, names):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, RequestBody) and value is not RequestBody:
                found[f"{value.__module__}.{value.__name__}"] = value
    return list(found.values())


BAD_VALUES: list[Any] = [None, "", "x" * 5000, "abc", -1, 2**40, 1.5, 1e30, "1e30", "12.345", [], {}, ["x"] * 30000,
                         "2024-13-45", "2024-01-31T25:00", "\x00", True, "nope", {"x": 1}, [{"a": 1}]]  # fmt: skip


def test_every_validation_error_of_every_request_body_reads_in_chinese() -> None:
    seen: set[str] = set()
    for body in _bodies():
        for bad in BAD_VALUES:
            payload = {name: bad for name in body.model_fields} | {"unknown_field": 1}
            try:
                body.model_validate(payload)
            except pydantic.ValidationError as exc:
                errors = exc.errors()
            else:
                continue
            for error in errors:
                seen.add(error["type"])
                assert error["type"] in _MESSAGES or error["type"] in ("value_error", "assertion_error"), error
                text = message(dict(error))
                # an enum's code stands before its label; true/false are JSON's words
                words = re.sub(r"[\w+]+（", "（", text).replace("true", "").replace("false", "")
                assert not ENGLISH.search(words), (body, error, text)
            refused = refusal(errors)
            assert "should" not in refused.message and "Input" not in refused.message
    assert {"missing", "string_too_long", "int_parsing", "enum", "decimal_parsing"} <= seen


def test_an_enum_refusal_lists_codes_with_their_labels() -> None:
    text = message({"type": "enum", "ctx": {"expected": "'clerk', 'reviewer' or 'admin'"}})
    assert text == "应为以下之一：clerk（经办人）、reviewer（审核人）、admin（管理员）"


def test_a_history_row_reads_as_its_step_and_states() -> None:
    from core.audit import step_label
    from models.audit import AuditEvent

    def row(action: str, entity: str, before: str | None, after: str | None) -> AuditEvent:
        return AuditEvent(actor_name="张三", action=action, entity_type=entity, entity_id="1",
                          from_state=before, to_state=after, summary="理由")  # fmt: skip

    returned = row("enrollment.return", "enrollment", "district_review", "returned")
    assert step_label(returned) == "退回（区局审核中 → 已退回）"
    assert step_label(row("card_batch.submit", "card_batch", "validated", "submitted")) == "提交（已校验 → 已提交银行）"
    assert step_label(row("user.created", "user", None, None)) == "理由"
