"""The worker: builds the Temporal client and runs every workflow and activity on one task queue."""

from __future__ import annotations

import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.bank import BankActivities
from activities.card_batch import CardBatchActivities
from activities.card_loss import CardLossActivities
from activities.claims import ClaimActivities
from activities.enrollment import EnrollmentActivities
from activities.failures import DataFailures
from activities.lifecycle import LifecycleActivities
from activities.member_import import MemberImportActivities
from activities.registration import RegistrationActivities
from activities.signals import SignalActivities
from cli.schedules import ensure_schedules
from core.db import Database
from core.log_context import ActivityLogContext
from core.logging import configure_logging, get_logger
from core.metrics import BusinessMetrics, serve_business_metrics, temporal_runtime
from core.settings import Settings, get_settings
from core.temporal import connect, register_search_attributes
from workflows.registry import WORKFLOWS, sandbox_runner

log = get_logger("worker")


class ActivitySet:
    """Every activity object with its dependencies, started and closed together."""

    def __init__(self, db: Database, settings: Settings, metrics: BusinessMetrics | None = None) -> None:
        self.db = db
        self.metrics = metrics or BusinessMetrics()
        self.imports = MemberImportActivities(db, settings)
        self.lifecycle = LifecycleActivities(db, self.metrics)
        self.enrollments = EnrollmentActivities(db, settings)
        self.claims = ClaimActivities(db, settings)
        self.batches = CardBatchActivities(db, settings, self.metrics)
        self.bank = BankActivities(db, settings)
        self.settings = settings
        self.card_losses = CardLossActivities(db, settings)

    def functions(self, client: Client) -> list[Any]:
        """Every activity; those that talk to Temporal itself get ``client``."""
        i, b, e = self.imports, self.batches, self.enrollments
        fan_out = SignalActivities(self.db, client)
        r = RegistrationActivities(self.db, self.settings, client)
        return [
            self.lifecycle.project_step, self.lifecycle.project_steps,
            e.build_roster, e.edit_roster, e.price_enrollment, e.record_payment, e.check_transfer, e.set_coverage,
            e.stored_transfers, e.file_enrollments, fan_out.signal_enrollments, fan_out.tell_claims_of_new_card,
            self.claims.check_claim, self.claims.apply_payout_result, self.bank.send_payout,
            i.prepare_import, i.import_slice, i.finish_import,
            b.apply_member_edit, b.check_batch_members, b.assign_batch_number, b.release_batch_members,
            b.apply_bank_files, b.record_transition,
            self.bank.send_batch_to_bank,
            r.register_cards, r.lapse_unregistered_cards, r.open_registrations, self.card_losses.apply_replacement,
            self.bank.block_card, self.bank.request_card_replacement,
        ]  # fmt: skip

    def warm_up(self) -> None:
        self.imports.warm_up()

    def close(self) -> None:
        self.imports.close()
        self.bank.close()


def build_worker(client: Client, settings: Settings, executor: ThreadPoolExecutor, activities: ActivitySet) -> Worker:
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        workflow_runner=sandbox_runner(),
        activities=activities.functions(client),
        activity_executor=executor,
        max_concurrent_activities=executor._max_workers,
        max_cached_workflows=settings.worker_cached_workflows,
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_seconds),
        interceptors=[ActivityLogContext(), DataFailures()],
    )


async def run(settings: Settings) -> None:
    if not settings.database_url:
        raise SystemExit("UNIONCARD_DATABASE_URL is not set (run `unioncard dev` for a local setup)")
    db = Database(settings.database_url)
    client = await connect(settings, temporal_runtime(settings))
    added = await register_search_attributes(client, settings.temporal_namespace)
    if added:
        log.info("search attributes registered", names=added)
    created = await ensure_schedules(client, settings)  # not on the time-skipping test server: it has none
    if created:
        log.info("schedules created", names=created)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    activities = ActivitySet(db, settings)
    metrics_server = serve_business_metrics(settings, activities.metrics)
    try:
        await asyncio.to_thread(activities.warm_up)
        with ThreadPoolExecutor(
            max_workers=settings.worker_activity_threads, thread_name_prefix="activity"
        ) as executor:
            worker = build_worker(client, settings, executor, activities)
            log.info("worker started", task_queue=settings.task_queue, temporal=settings.temporal_address)
            async with worker:
                await stop.wait()
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()
            metrics_server.server_close()
        activities.close()
        db.dispose()
    log.info("worker stopped")


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
