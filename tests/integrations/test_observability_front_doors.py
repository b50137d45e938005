"""The README's "Observability" for every front door: the latency histogram, the trace id and the authorize span.

The four README apps (``OAuth2Guard``, ``BearerGuard``, ``BearerBackend``, ``GateTokenVerifier``) in process, with
a ``PrometheusSink`` on their audit logs read back with prometheus_client's parser, and spans from the
OpenTelemetry SDK's in-memory exporter (a tracer of our own provider: the process-wide one is left alone). The
Prometheus scrape of the default (global) registry runs over HTTP on loopback.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.propagate import inject
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families

import labkit.tracing
from labkit.audit import AuditLog
from labkit.observability import PrometheusSink, attach

from ..helpers import Keys, free_port, mint
from .test_integrations import KINDS, call, served
from .test_integrations_dpop import readme_apps

pytestmark = pytest.mark.anyio
LATENCY = "labkit_decision_latency_seconds"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def token(keys: Keys, **claims: Any) -> str:
    now = int(time.time())  # the MCP SDK checks exp against the wall clock itself
    return mint(keys.rsa, **{"iat": now - 60, "nbf": now - 60, "exp": now + 3600, "scope": "api:read", **claims})


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> dict[str, dict[str, Any]]:
    return readme_apps(tmp_path_factory.mktemp("observability"), keys)


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[trace.Tracer, InMemorySpanExporter]]:
    """labkit's tracer from an SDK provider of this test's own, and what it exported."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(labkit.tracing, "_tracer", provider.get_tracer(labkit.tracing.TRACER_NAME))
    yield provider.get_tracer("the adopter's app"), exporter
    provider.shutdown()


@pytest.mark.parametrize("kind", KINDS)
async def test_every_front_door_feeds_the_latency_histogram(apps: dict[str, dict[str, Any]], keys: Keys,
                                                            kind: str) -> None:
    namespace = apps[kind]
    audit: AuditLog = namespace["audit"]
    sink = PrometheusSink(CollectorRegistry())
    attach(audit, sink)
    try:
        async with served(kind, namespace) as client:
            expired = mint(keys.rsa, exp=int(time.time()) - 3600, iat=int(time.time()) - 7200, scope="api:read")
            assert (await call(client, kind, f"Bearer {expired}")).status_code == 401
            assert (await call(client, kind, f"Bearer {token(keys)}")).status_code == 200
    finally:
        audit.sinks.remove(sink)
    got = samples(sink.exposition().decode())
    assert got[(f"{LATENCY}_count", (("decision", "deny"),))] == 1, kind
    assert got[(f"{LATENCY}_sum", (("decision", "deny"),))] > 0, kind
    if kind != "mcp":  # the MCP SDK decides an accepted token's scopes itself: the verifier audits refusals only
        assert got[(f"{LATENCY}_count", (("decision", "allow"),))] == 1, kind
    refused = audit.events()[-1 if kind == "mcp" else -2]
    assert refused.reason == "expired" and refused.latency_ms is not None and refused.latency_ms > 0, kind


@pytest.mark.parametrize("kind", ["guard", "fastapi", "starlette"])
async def test_a_403_shows_in_traces_and_its_event_carries_the_trace_id(
        apps: dict[str, dict[str, Any]], keys: Keys, kind: str,
        spans: tuple[trace.Tracer, InMemorySpanExporter]) -> None:
    tracer, exporter = spans
    namespace = apps[kind]
    async with served(kind, namespace) as client:
        with tracer.start_as_current_span("GET /items") as outer:  # the adopter's span around the call
            headers = {"Authorization": f"Bearer {token(keys, scope='files:read')}"}
            inject(headers)  # W3C traceparent: a server's own instrumentation (FastAPI's) continues the trace
            response = await client.get("/items", headers=headers)
    assert response.status_code == 403
    trace_id = trace.format_trace_id(outer.get_span_context().trace_id)
    event = namespace["audit"].events()[-1]
    assert event.reason == "insufficient_scope" and event.request_id == trace_id, (kind, event)
    authorize = [s for s in exporter.get_finished_spans() if s.name == "labkit.authorize"]
    assert len(authorize) == 1, kind
    attributes = dict(authorize[0].attributes or {})
    assert attributes["labkit.status"] == 403 and attributes["labkit.decision"] == "deny"
    assert attributes["labkit.reason"] == "insufficient_scope"
    assert authorize[0].status.status_code == trace.StatusCode.ERROR
    assert authorize[0].context is not None and authorize[0].context.trace_id == outer.get_span_context().trace_id


async def test_the_mcp_verifiers_refusal_carries_the_trace_id(tmp_path: Path, keys: Keys,
                                                              spans: tuple[trace.Tracer, InMemorySpanExporter]) -> None:
    tracer, _ = spans
    namespace = readme_apps(tmp_path, keys)["mcp"]  # the SDK's session manager runs once per app
    async with served("mcp", namespace) as client:
        with tracer.start_as_current_span("POST /mcp") as outer:
            assert (await call(client, "mcp", "Bearer not-a-jwt")).status_code == 401
    event = namespace["audit"].events()[-1]
    assert event.request_id == trace.format_trace_id(outer.get_span_context().trace_id)


async def test_without_a_span_the_guard_keeps_the_callers_request_id(
        apps: dict[str, dict[str, Any]], keys: Keys, spans: tuple[trace.Tracer, InMemorySpanExporter]) -> None:
    namespace = apps["guard"]
    async with served("guard", namespace) as client:
        response = await client.get("/items", headers={"Authorization": f"Bearer {token(keys)}",
                                                       "X-Request-ID": "req-42"})
    assert response.status_code == 200
    assert namespace["audit"].events()[-1].request_id == "req-42"
    assert [s.name for s in spans[1].get_finished_spans()].count("labkit.authorize") == 1  # allowed: traced too


@pytest.mark.integration
async def test_the_default_registry_is_scraped_over_http(apps: dict[str, dict[str, Any]], keys: Keys) -> None:
    sink = PrometheusSink()  # prometheus_client's global REGISTRY: what start_http_server serves
    assert sink.registry is REGISTRY
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1")
    namespace = apps["fastapi"]
    attach(namespace["audit"], sink)
    try:
        async with served("fastapi", namespace) as client:
            assert (await call(client, "fastapi", f"Bearer {token(keys)}")).status_code == 200
        async with httpx.AsyncClient(timeout=10) as http:
            scraped = await http.get(f"http://127.0.0.1:{port}/metrics")
    finally:
        namespace["audit"].sinks.remove(sink)
        sink.close()
        server.shutdown()
        server.server_close()
        thread.join(5)
    got = samples(scraped.text)
    assert got[(f"{LATENCY}_count", (("decision", "allow"),))] == 1
    assert got[("labkit_decisions_total", (("decision", "allow"), ("endpoint", "GET /items"), ("reason", ""),
                                           ("tenant", "")))] == 1
    assert PrometheusSink().close() is None  # closed: the global registry takes a new sink
