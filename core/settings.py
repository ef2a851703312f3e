"""Service settings: one BaseSettings object, environment prefix ``UNIONCARD_``."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting the service reads; each has a documented default (see README)."""

    model_config = SettingsConfigDict(env_prefix="UNIONCARD_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path(".data"), description="Local state: embedded PostgreSQL, Temporal file, uploads.")
    database_url: str | None = Field(
        None, description="PostgreSQL URL; when unset `unioncard dev` starts an embedded cluster under data_dir/pg."
    )
    temporal_address: str = Field("localhost:7233", description="Temporal frontend host:port.")
    temporal_namespace: str = Field("default", description="Temporal namespace.")
    task_queue: str = Field("unioncard", description="Task queue shared by the worker and the API.")
    temporal_ui_port: int = Field(8233, description="Port of the Temporal web UI started by `unioncard dev`.")
    api_host: str = Field("127.0.0.1", description="Address the API binds to.")
    api_port: int = Field(8000, description="Port the API binds to.")
    timezone: str = Field(
        "Asia/Shanghai", description="Time zone of the programme's dates (today, windows, deadlines)."
    )
    log_level: str = Field("INFO", description="Log level of every process.")
    log_json: bool | None = Field(None, description="JSON logs; default: JSON unless stdout is a terminal.")
    import_chunk_rows: int = Field(2000, description="Rows committed per transaction by a member import.")
    import_slice_chunks: int = Field(50, description="Chunks one import activity processes before reporting back.")
    import_processes: int = Field(
        default_factory=lambda: os.cpu_count() or 2,
        description="Processes that check import chunks in parallel (0: in the worker's own thread).",
    )
    import_heartbeat_seconds: int = Field(30, description="Heartbeat timeout of import slices (worker loss detection).")
    import_max_bytes: int = Field(200 * 1024 * 1024, description="Largest member import file accepted.")
    import_wait_seconds: float = Field(60.0, description="How long `?wait=true` waits for an import to finish.")

    update_timeout_seconds: float = Field(
        15.0, description="How long the API waits for a workflow update (503 when no worker answers)."
    )
    bank_url: str = Field("http://127.0.0.1:8100", description="The bank's batch API (the simulator in development).")
    bank_secret: str = Field("dev-bank-secret", description="Shared HMAC secret of the bank's signed callbacks.")
    callback_url: str = Field(
        "http://127.0.0.1:8000/bank/callbacks", description="Where the bank sends its signed callbacks (this API)."
    )
    bank_sim_port: int = Field(8100, description="Port of the bank simulator started by `unioncard dev`.")
    card_feedback_days: int = Field(30, description="Days without bank feedback before a batch is marked overdue.")

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"


@lru_cache
def get_settings() -> Settings:
    return Settings()
