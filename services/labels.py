"""Views that carry a status also carry its Chinese label (declared in ``models/states.py``)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, computed_field

from models.states import STATUSES, label, label_of


class StatusLabelled(BaseModel):
    """A view with ``status`` (an enum, or a code of the machine named by ``entity_type``)."""

    @computed_field(description="The status as a person reads it, e.g. 区局审核中")  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> str:
        status = getattr(self, "status", "")
        if isinstance(status, StrEnum):
            return label(status)
        statuses = STATUSES.get(getattr(self, "entity_type", ""))
        return label_of(statuses, status) if statuses else str(status)
