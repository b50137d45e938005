"""The flow recorder shows a private lab's paths as its servers serve them: without the lab's secret prefix, first
or after ``/.well-known/<name>`` (RFC 8414 §3.1, RFC 9728 §3.1); an open lab's paths are unchanged."""

from __future__ import annotations

import httpx
import pytest

from labkit.flows.recorder import FlowRecorder

S = "qZcO0pJy8C2BjJNm_nmhC1LfIAwgsObpnjHtrv-EulM"  # a fixed capability (TEST-ONLY)


@pytest.mark.parametrize(("sent", "shown", "step"), [
    (f"/{S}/authorize", "/authorize", "authorization request (PKCE S256)"),
    (f"/{S}", "/", None),
    (f"/.well-known/oauth-authorization-server/{S}/acme", "/.well-known/oauth-authorization-server/acme",
     "authorization server metadata"),
    (f"/.well-known/oauth-protected-resource/{S}", "/.well-known/oauth-protected-resource",
     "protected resource metadata"),
    (f"/{S}x/token", f"/{S}x/token", None),  # not the participant's prefix: shown as sent
])
def test_a_private_participant_paths_are_shown_without_its_prefix(sent: str, shown: str, step: str | None) -> None:
    recorder = FlowRecorder({f"http://127.0.0.1:9/{S}": "AS", "http://127.0.0.1:10": "Agent"})
    request = httpx.Request("GET", f"http://127.0.0.1:9{sent}")
    exchange = recorder.record(request, httpx.Response(200, request=request), b"")
    assert (exchange.participant, exchange.path) == ("AS", shown)
    assert step is None or exchange.step == step


def test_an_open_participant_paths_are_unchanged() -> None:
    recorder = FlowRecorder({"http://127.0.0.1:10": "Agent"})
    request = httpx.Request("GET", f"http://127.0.0.1:10/{S}/mcp")
    assert recorder.record(request, httpx.Response(200, request=request), b"").path == f"/{S}/mcp"
