"""The Temporal client every process builds the same way, and the search attributes it needs."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from core.codec import service_converter
from core.search_attributes import ALL
from core.settings import Settings


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    """The service's client: its namespace, payloads encrypted by the codec (refused when no
    key is configured, see ``core.codec``), and ``runtime`` when the process exports Temporal's
    own metrics (the worker)."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=service_converter(settings),
        runtime=runtime or Runtime.default(),
    )


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Add the service's custom search attributes that the namespace lacks (safe to repeat)."""
    try:
        listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
        existing = set(listed.custom_attributes)
    except RPCError as exc:  # the time-skipping test server can add but not list them
        if exc.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        existing = set()
    missing = {
        key.name: IndexedValueType.ValueType(SearchAttributeIndexedValueType(key.indexed_value_type).value)
        for key in ALL
        if key.name not in existing
    }
    if missing:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.ALREADY_EXISTS:
                raise
    return sorted(missing)
