"""The worker: builds the Temporal client and runs every workflow and activity on one task queue."""

from __future__ import annotations

import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.bank import BankActivities
from activities.card_batch import CardBatchActivities
from activities.member_import import MemberImportActivities
from core.db import Database
from core.logging import configure_logging, get_logger
from core.settings import Settings, get_settings
from core.temporal import connect
from workflows import WORKFLOWS

log = get_logger("worker")


def build_worker(
    client: Client, db: Database, settings: Settings, executor: ThreadPoolExecutor, imports: MemberImportActivities
) -> Worker:
    batches = CardBatchActivities(db, settings)
    bank = BankActivities(db, settings)
    activities: list[Any] = [
        imports.prepare_import,
        imports.import_slice,
        imports.finish_import,
        batches.apply_member_edit,
        batches.check_batch_members,
        batches.assign_batch_number,
        batches.release_batch_members,
        batches.apply_bank_file,
        batches.record_transition,
        bank.send_batch_to_bank,
    ]
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=activities,
        activity_executor=executor,
        max_concurrent_activities=executor._max_workers,
    )


async def run(settings: Settings) -> None:
    if not settings.database_url:
        raise SystemExit("UNIONCARD_DATABASE_URL is not set (run `unioncard dev` for a local setup)")
    db = Database(settings.database_url)
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    imports = MemberImportActivities(db, settings)
    try:
        await asyncio.to_thread(imports.warm_up)
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="activity") as executor:
            worker = build_worker(client, db, settings, executor, imports)
            log.info("worker started", task_queue=settings.task_queue, temporal=settings.temporal_address)
            async with worker:
                await stop.wait()
    finally:
        imports.close()
        db.dispose()
    log.info("worker stopped")


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
