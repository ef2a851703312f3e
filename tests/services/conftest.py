"""What the service tests share: a database session on the demo data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session

from core.db import Database


@pytest.fixture
def session(db: Database, tokens: dict[str, str]) -> Iterator[Session]:
    with db.session() as s:  # the demo unions seeded (``tokens``)
        yield s
