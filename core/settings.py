"""Service settings: one BaseSettings object, environment prefix ``UNIONCARD_``."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
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
    import_chunk_rows: int = Field(10_000, description="Rows committed per transaction by a member import.")
    import_slice_chunks: int = Field(50, description="Chunks one import activity processes before reporting back.")
    import_processes: int = Field(
        default_factory=lambda: os.cpu_count() or 2,
        description="Processes that check import chunks in parallel (0: in the worker's own thread).",
    )
    import_heartbeat_seconds: int = Field(30, description="Heartbeat timeout of import slices (worker loss detection).")
    import_max_bytes: int = Field(200 * 1024 * 1024, description="Largest member import file accepted.")
    import_xlsx_max_part_bytes: int = Field(
        1 << 30, ge=1, description="Largest uncompressed part of an uploaded xlsx (its sheet, its strings...)."
    )
    import_xlsx_max_total_bytes: int = Field(3 << 29, ge=1, description="Largest uncompressed total of an xlsx.")
    import_xlsx_max_ratio: float = Field(
        200.0, gt=1, description="Highest compression ratio of an xlsx part over 1 MB (a zip bomb's is about 1,000)."
    )
    import_xlsx_max_columns: int = Field(256, ge=1, le=16384, description="Columns an xlsx sheet may use.")
    import_xlsx_max_strings: int = Field(2_000_000, ge=1, description="Distinct texts (shared strings) of an xlsx.")
    import_process_memory_mb: int = Field(
        1024, ge=0, description="Resident memory each import process, which reads the files, may reach (0: no limit)."
    )
    import_wait_seconds: float = Field(60.0, description="How long `?wait=true` waits for an import to finish.")

    update_timeout_seconds: float = Field(
        15.0, description="How long the API waits for a workflow update (503 when no worker answers)."
    )
    bank_url: str = Field("http://127.0.0.1:8100", description="The bank's batch API (the simulator in development).")
    bank_secret: str = Field("dev-bank-secret", description="Shared HMAC secret of the bank's signed callbacks.")
    bank_previous_secrets: str = Field(
        "", description="Comma-separated older bank secrets still accepted on callbacks while the bank switches over."
    )
    callback_url: str = Field(
        "http://127.0.0.1:8000/bank/callbacks", description="Where the bank sends its signed callbacks (this API)."
    )
    bank_sim_port: int = Field(8100, description="Port of the bank simulator started by `unioncard dev`.")
    card_feedback_days: int = Field(30, description="Days without bank feedback before a batch is marked overdue.")
    center_name: str = Field(
        "上海市职工保障互助中心", max_length=60, description="The Mutual Aid Center as it signs the districts' notices."
    )
    center_account_name: str = Field(
        "上海市职工保障互助中心会员专享保障专户",
        max_length=60,
        description="户名 of the center's account that districts pay into (on the district's notice).",
    )
    center_account_no: str = Field(
        "316023-03002745697", max_length=40, description="帐号 of the center's account (on the district's notice)."
    )
    center_bank: str = Field(
        "上海银行人民广场支行", max_length=60, description="开户行 of the center's account (on the district's notice)."
    )
    worker_cached_workflows: int = Field(
        1000, ge=0, description="Open workflows a worker keeps in memory (fewer: less memory, more replaying)."
    )
    worker_activity_threads: int = Field(8, ge=1, description="Activities a worker runs at once.")
    worker_shutdown_seconds: int = Field(
        30, ge=0, description="On SIGTERM, how long a worker lets running activities finish."
    )
    token_cache_seconds: float = Field(
        30,
        ge=0,
        description="How long an API process trusts a token it has looked up (0: look it up on every request). "
        "A user deactivated or changed in the database is seen by every API process within this time.",
    )
    auth_failures_per_minute: int = Field(
        20, ge=1, description="Refused tokens a client address may send per minute; then 429 until the minute ends."
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses, networks (10.0.0.0/8) or host names of the proxies in front of "
        "the API: only a request from one of them has its client address taken from X-Forwarded-For.",
    )
    api_metrics: bool = Field(True, description="Serve Prometheus metrics at the API's `GET /metrics` (no token).")
    metrics_host: str = Field("127.0.0.1", description="Address the worker's metrics endpoints bind to.")
    worker_metrics_port: int = Field(
        9464, description="Port of the worker's business metrics for Prometheus (0: not served)."
    )
    temporal_metrics_port: int = Field(
        9465, description="Port of the Temporal SDK's metrics of the worker for Prometheus (0: not served)."
    )
    codec_keys: SecretStr | None = Field(
        None,
        description="Keys that encrypt Temporal payloads, `id:base64key,id2:base64key` (32-byte keys); the first "
        "encrypts, every one decrypts. `unioncard dev` makes one under data_dir.",
    )
    codec_allow_clear: bool = Field(
        False, description="Let the worker and the API run without codec keys: Temporal then stores payloads in clear."
    )
    codec_cors_origins: str = Field(
        "http://localhost:8233,http://127.0.0.1:8233",
        description="Origins (comma-separated) of the Temporal web UI allowed to call the codec endpoint.",
    )

    @property
    def bank_secrets(self) -> list[str]:
        """The secrets a bank callback may be signed with: the current one first."""
        return [self.bank_secret, *(s.strip() for s in self.bank_previous_secrets.split(",") if s.strip())]

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def codec_origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.codec_cors_origins.split(",") if o.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
