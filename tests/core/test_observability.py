"""Logs, metrics and spans: read back with the standard logging, prometheus_client's parser and the OTel SDK."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from labkit import validate_security_config
from labkit.audit import AuditEvent, AuditLog
from labkit.auth import build_validator
from labkit.errors import AuthError, Reason
from labkit.observability import LogCapture, LoggingSink, PrometheusSink, attach

from ..auth.fake_idp import Clock, IdpState, run_and_close
from ..helpers import NOW, Keys, mint, oauth2


class Recorder(InMemorySpanExporter):
    """Keeps spans only while a test asks for them (the process-wide provider outlives the test)."""

    recording = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return super().export(spans) if self.recording else SpanExportResult.SUCCESS


_RECORDER = Recorder()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # the process-wide provider can be set once
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_RECORDER))
        trace.set_tracer_provider(provider)
    _RECORDER.clear()
    _RECORDER.recording = True
    yield _RECORDER
    _RECORDER.recording = False
    _RECORDER.clear()


def samples(sink: PrometheusSink) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = sink.exposition().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def deny(reason: Reason, **context: Any) -> AuditEvent:
    return AuditEvent.deny(AuthError(reason, "detail"), **context)


def test_prometheus_sink_counts_decisions_and_latency() -> None:
    sink = PrometheusSink(CollectorRegistry())
    audit = attach(AuditLog(100), sink)
    audit.record(AuditEvent(decision="allow", endpoint="/", tenant="acme", latency_ms=3.0))
    audit.record(AuditEvent(decision="allow", endpoint="/", tenant="acme", latency_ms=7.0))
    audit.record(deny(Reason.EXPIRED, endpoint="/mcp", latency_ms=1.0))
    got = samples(sink)
    allow = (("decision", "allow"), ("endpoint", "/"), ("reason", ""), ("tenant", "acme"))
    expired = (("decision", "deny"), ("endpoint", "/mcp"), ("reason", "expired"), ("tenant", ""))
    assert got[("labkit_decisions_total", allow)] == 2
    assert got[("labkit_decisions_total", expired)] == 1
    assert got[("labkit_decision_latency_seconds_count", (("decision", "allow"),))] == 2
    assert got[("labkit_decision_latency_seconds_sum", (("decision", "allow"),))] == pytest.approx(0.010)
    assert got[("labkit_decision_latency_seconds_bucket", (("decision", "deny"), ("le", "0.001")))] == 1


def test_client_chosen_labels_are_bounded() -> None:
    sink = PrometheusSink(CollectorRegistry(), max_values=10)
    for i in range(1_000):  # a hundred times the bound: a scanner's random paths and tenants
        sink(deny(Reason.MISSING_TOKEN, endpoint=f"/random-{i}-" + "x" * 1000, tenant=f"t{i}"))
    got = samples(sink)
    series = [labels for name, labels in got if name == "labkit_decisions_total"]
    assert len(series) <= 11 * 11
    assert all(len(value) <= 64 for labels in series for _, value in labels)
    assert sum(v for (name, _), v in got.items() if name == "labkit_decisions_total") == 1_000


def test_logging_sink_writes_json_lines_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    audit = attach(AuditLog(10), LoggingSink())
    with caplog.at_level(logging.INFO, logger="labkit"):
        audit.record(AuditEvent(decision="allow", subject="alice", fingerprint="abc123abc123"))
        audit.record(deny(Reason.SIGNATURE, endpoint="/"))
    records = [r for r in caplog.records if r.name == "labkit.audit.events"]
    assert [r.levelno for r in records] == [logging.INFO, logging.WARNING]
    assert json.loads(records[0].getMessage())["subject"] == "alice"
    assert json.loads(records[1].getMessage())["reason"] == "signature"


def test_a_broken_sink_never_breaks_recording(caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: AuditEvent) -> None:
        raise RuntimeError("sink down")

    audit = attach(AuditLog(10), broken)
    with caplog.at_level(logging.ERROR, logger="labkit"):
        audit.record(AuditEvent(decision="allow"))
    assert len(audit) == 1 and "audit sink" in caplog.text


def test_validation_spans_carry_the_reason_never_the_token(spans: InMemorySpanExporter, keys: Keys) -> None:
    cfg = validate_security_config({"oauth2": oauth2(jwks=keys.jwks(), jwt_algorithms=["RS256"])}, env={})
    validator = build_validator(cfg.oauth2, clock=lambda: NOW)
    good = mint(keys.rsa)
    expired = mint(keys.rsa, exp=NOW - 10, jti="t-2")
    asyncio.run(validator.validate(good))
    with pytest.raises(AuthError):
        asyncio.run(validator.validate(expired))
    finished: list[ReadableSpan] = [s for s in spans.get_finished_spans() if s.name == "labkit.validate"]
    assert len(finished) == 2
    ok, refused = finished
    assert ok.attributes is not None and ok.attributes["labkit.strategy"] == "jwt"
    assert ok.status.status_code == trace.StatusCode.UNSET
    assert refused.attributes is not None and refused.attributes["labkit.reason"] == "expired"
    assert refused.status.status_code == trace.StatusCode.ERROR
    for span in finished:
        text = json.dumps(dict(span.attributes or {})) + str(span.status.description) + str(span.events)
        assert good not in text and expired not in text


@pytest.mark.integration
def test_jwks_fetch_and_introspection_spans(spans: InMemorySpanExporter, keys: Keys,
                                            idp: tuple[IdpState, str]) -> None:
    state, url = idp
    state.jwks = keys.jwks()
    cfg = validate_security_config({"oauth2": oauth2(jwks_url=f"{url}/jwks", jwt_algorithms=["RS256"])}, env={})
    jwt_validator = build_validator(cfg.oauth2, clock=Clock())
    run_and_close(jwt_validator, jwt_validator.validate(mint(keys.rsa)))
    state.active = {"opaque-1": {"active": True, "scope": "api:read", "sub": "bob", "exp": NOW + 3600}}
    block = {"validation_strategy": "introspection", "introspection_endpoint": f"{url}/introspect",
             "client_id": "rs-client", "client_secret": "rs-secret"}
    introspector = build_validator(validate_security_config({"oauth2": block}, env={}).oauth2, clock=Clock())
    run_and_close(introspector, introspector.validate("opaque-1"))
    by_name = {s.name: s for s in spans.get_finished_spans()}
    host = url.split("://", 1)[1]
    assert by_name["labkit.jwks.fetch"].attributes == {"labkit.host": host}
    introspect = by_name["labkit.introspect"]
    assert introspect.attributes is not None and introspect.attributes["labkit.host"] == host
    assert "opaque-1" not in json.dumps(dict(introspect.attributes))
    fetch, validate = by_name["labkit.jwks.fetch"], by_name["labkit.validate"]
    assert fetch.parent is not None and validate.context is not None
    assert fetch.parent.span_id == validate.context.span_id  # the fetch is inside the validation


def test_log_capture_keeps_labkit_records_and_restores_propagation(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("labkit.auth.jwks")
    capture = LogCapture(capacity=3).start()
    try:
        with caplog.at_level(logging.WARNING):
            for n in range(5):
                logger.warning("JWKS fetch from %s failed", f"host-{n}")
        assert capture.messages() == [f"WARNING labkit.auth.jwks: JWKS fetch from host-{n} failed" for n in (2, 3, 4)]
        assert not [r for r in caplog.records if r.name.startswith("labkit")]  # not passed on to the root
    finally:
        capture.stop()
    assert logging.getLogger("labkit").propagate is True
