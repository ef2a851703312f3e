"""The floor of any HTTP API in front of a Temporal update on this machine: a FastAPI app, served by
uvicorn in a process of its own as the service's API is, whose one route sends the trivial update
and answers with its result (no token, no database). The claims benchmark measures it in the same
run at the same concurrency, so the figures say how much of the approval's time an HTTP hop alone
takes, apart from what the service does.

Run by the benchmark: python -m benchmarks.http_floor TEMPORAL_ADDRESS PORT WORKFLOW_ID_PREFIX COUNT
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI
from temporalio.client import Client

from benchmarks.trivial_workflow import Ping, TrivialWorkflow


def create_app(address: str, prefix: str, count: int) -> FastAPI:
    app = FastAPI()
    clients: list[Client] = []

    @app.post("/ping/{n}")
    async def ping(n: int) -> dict[str, int]:
        if not clients:
            clients.append(await Client.connect(address))
        handle = clients[0].get_workflow_handle(f"{prefix}-{n % count}")
        return {"n": await handle.execute_update(TrivialWorkflow.ping, Ping(n))}

    return app


if __name__ == "__main__":
    address, port, prefix, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    uvicorn.run(create_app(address, prefix, count), host="127.0.0.1", port=port, log_config=None, access_log=False)
