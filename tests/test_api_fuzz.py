"""Schemathesis fuzzes every operation of the OpenAPI schema: no input may cause a 5xx."""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from service.http.api import create_app
from service.http.guard import LOOPBACK_HOSTS
from service.http.runtime import ServiceState
from service.settings import Settings
from sync.store import StoreLayout
from tests.conftest import memory_text, write_memory_file

# CI runs 25 per operation; MEMSYNC_FUZZ_EXAMPLES=200 for a deeper run
EXAMPLES_PER_OPERATION = int(os.environ.get("MEMSYNC_FUZZ_EXAMPLES", "25"))


def test_no_input_causes_a_server_error(layout: StoreLayout, encoder: Any) -> None:
    write_memory_file(
        layout, "decisions/a.md", memory_text("Use PostgreSQL", "For queues.", mid="a")
    )
    state = ServiceState(layout, Settings(service_sync_interval_min=0), encoder=encoder)
    state.open()
    try:
        # schemathesis' ASGI client sends "Host: testserver"
        app = create_app(state, allowed_hosts=(*LOOPBACK_HOSTS, "testserver"))
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 10
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def no_5xx(case: Any) -> None:
                response = case.call()
                assert response.status_code < 500, (
                    case.method,
                    case.formatted_path,
                    response.status_code,
                    response.text[:300],
                )

            no_5xx()
    finally:
        state.close()
