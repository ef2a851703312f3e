"""The API's Prometheus endpoint: requests by route template (never the raw path), method and
status, with latency histograms; and the request line of the log carries request id and actor."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from api.app import create_app
from core.db import Database
from core.logging import configure_logging
from core.settings import Settings
from tests.conftest import auth


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


async def test_metrics_count_requests_by_route_template_method_and_status(
    api: httpx.AsyncClient, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    clerk = tokens["clerk@101-0001"]
    configure_logging("INFO", json=True)
    try:
        for claim_id in (999_991, 999_992):
            assert (await api.get(f"/claims/{claim_id}", headers=auth(clerk))).status_code == 404
        assert (await api.get("/claims/999993")).status_code == 401
        assert (await api.get("/health")).status_code == 200
        assert (await api.get("/no/such/13812345678")).status_code == 404
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    finally:
        logging.getLogger().handlers.clear()
    r = await api.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    got = samples(r.text)
    requests = "unioncard_http_requests_total"
    assert got[key(requests, route="/claims/{claim_id}", method="GET", status="404")] == 2
    assert got[key(requests, route="/claims/{claim_id}", method="GET", status="401")] == 1
    assert got[key(requests, route="/health", method="GET", status="200")] == 1
    assert got[key(requests, route="<unmatched>", method="GET", status="404")] == 1
    latency = "unioncard_http_request_duration_seconds_count"
    assert got[key(latency, route="/claims/{claim_id}", method="GET")] == 3
    assert got[key("unioncard_http_request_duration_seconds_bucket", route="/health", method="GET", le="+Inf")] == 1
    for raw in ("999991", "999992", "/no/such", "13812345678"):
        assert raw not in r.text  # a path's values never become labels

    requests_logged = [line for line in lines if line["event"] == "request"]
    assert len(requests_logged) == 5
    first = requests_logged[0]
    assert first["route"] == "/claims/{claim_id}" and first["status"] == 404 and len(first["request_id"]) == 32
    assert first["role"] == "clerk" and first["org"] == "101-0001" and isinstance(first["actor"], int)
    assert "actor" not in requests_logged[2]  # no token, no actor (and nothing left from the last request)
    assert len({line["request_id"] for line in requests_logged}) == 5


async def test_metrics_can_be_turned_off(
    settings: Settings, db: Database, temporal_client: Client, worker: None
) -> None:
    app = create_app(settings.model_copy(update={"api_metrics": False}), db=db, temporal=temporal_client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/metrics")).status_code == 404
