"""Member imports: the stored file, progress checkpoint, counts and rejected rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel

from models.base import enum_type, utcnow
from models.states import ImportStatus


class MemberImport(SQLModel, table=True):
    __tablename__ = "member_imports"

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisations.id", index=True)
    created_by: int = Field(foreign_key="users.id")
    filename: str = Field(max_length=255)
    file_format: str = Field(max_length=8)
    encoding: str | None = Field(default=None, max_length=16)
    delimiter: str = Field(default=",", max_length=1)
    stored_path: str = Field(max_length=500, description="The file as uploaded.")
    data_path: str | None = Field(
        default=None, max_length=500, description="The CSV processed (the upload, or its xlsx converted)."
    )
    sha256: str = Field(max_length=64)
    size_bytes: int = 0
    data_bytes: int = Field(default=0, description="Size of the CSV processed; with next_offset gives progress.")
    header_row: int = 1
    headers: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    positions: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: ImportStatus = Field(default=ImportStatus.QUEUED, sa_type=enum_type(ImportStatus))
    workflow_id: str = Field(max_length=100)
    next_row: int = Field(default=0, description="Checkpoint: data rows already committed.")
    next_offset: int = Field(default=0, description="Checkpoint: byte offset of the next CSV row.")
    total_rows: int | None = None
    accepted: int = 0
    existing: int = 0
    rejected: int = 0
    failure: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class ImportRowError(SQLModel, table=True):
    """One problem of one rejected row; ``raw`` keeps the row as uploaded for errors.xlsx."""

    __tablename__ = "import_row_errors"

    id: int | None = Field(default=None, primary_key=True)
    import_id: int = Field(foreign_key="member_imports.id", index=True)
    row: int = Field(description="Row number as the clerk sees it in the file (header is row 1).")
    column: str | None = Field(default=None, max_length=40)
    code: str = Field(max_length=40)
    message: str = Field(max_length=300)
    raw: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class RowErrorPublic(SQLModel):
    row: int
    column: str | None
    code: str
    message: str


class ImportPublic(SQLModel):
    id: int
    org_code: str
    filename: str
    file_format: str
    status: ImportStatus
    processed_rows: int
    progress: float = Field(description="0..1, share of the file processed")
    total_rows: int | None
    accepted: int
    existing: int
    rejected_rows: int
    errors: list[RowErrorPublic]
    errors_total: int
    failure: str | None
    created_at: datetime
    finished_at: datetime | None
