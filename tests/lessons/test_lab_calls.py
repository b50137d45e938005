"""``Lab`` as the one vocabulary: ``call`` with its own audit event, one token request, one envelope, the portal."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labkit import rpc
from labkit.a2a.push import AgentSigner
from labkit.lab import Lab, LabClock
from labkit.lab.calls import TokenRequestError, parse_challenge, request_token
from labkit.provider import PERSONA_CLIENTS, persona_client


def test_envelopes() -> None:
    assert rpc.request("capabilities") == {"jsonrpc": "2.0", "id": "lab-1", "method": "capabilities"}
    assert rpc.request("execute", {"capability": "echo"}, rpc_id=7)["params"] == {"capability": "echo"}
    assert rpc.result(3, {"a": 1}) == {"jsonrpc": "2.0", "id": 3, "result": {"a": 1}}
    assert rpc.error(None, -32600, "Invalid Request") == {"jsonrpc": "2.0", "id": None,
                                                         "error": {"code": -32600, "message": "Invalid Request"}}


def test_parse_challenge() -> None:
    parsed = parse_challenge('Bearer realm="lab", error="insufficient_scope", scope="api:write files:read", '
                             'resource_metadata="http://127.0.0.1:1/.well-known/oauth-protected-resource"')
    assert parsed is not None and parsed.scheme == "Bearer" and parsed["error"] == "insufficient_scope"
    assert parsed.get("scope") == "api:write files:read" and parsed.get("nope") is None
    dpop = parse_challenge('DPoP algs="ES256 RS256", Error=use_dpop_nonce')
    assert dpop is not None and dpop.scheme == "DPoP" and dpop.params == {"algs": "ES256 RS256",
                                                                           "error": "use_dpop_nonce"}
    assert parse_challenge(None) is None and parse_challenge("") is None and parse_challenge("   ") is None
    assert parse_challenge("Bearer " + "x" * 9000) is None  # oversized: read as none


@given(st.text(max_size=300))
def test_parse_challenge_never_raises(value: str) -> None:
    parsed = parse_challenge(value)
    assert parsed is None or all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.params.items())


def test_persona_credentials_have_one_home() -> None:
    assert persona_client("default") == PERSONA_CLIENTS["default"] == ("lab-client", "lab-client-secret")
    with pytest.raises(ValueError, match="unknown persona 'nobody'; use one of default"):
        persona_client("nobody")


@pytest.mark.integration
def test_call_reads_its_own_event_not_the_last_one() -> None:
    with Lab(clock=LabClock()) as lab:
        refused = lab.execute("write_operation", token=lab.token(["api:read"]))
        assert refused.status == 403 and refused.reason == "insufficient_scope"
        assert refused.challenge is not None and refused.challenge["error"] == "insufficient_scope"
        assert refused.error is not None and refused.result is None
        assert refused.event is not None and refused.event.request_id is not None
        # later events do not change which event belongs to the call
        anonymous = lab.call("capabilities")
        assert anonymous.status == 401 and anonymous.reason == "missing_token"
        assert anonymous.challenge is not None and anonymous.challenge.scheme == "Bearer"
        assert lab.event_of(refused.event.request_id) == refused.event
        allowed = lab.call("capabilities", token=lab.token(["api:read"]))
        assert allowed.status == 200 and allowed.reason == "" and allowed.event is not None
        assert allowed.event.decision == "allow" and allowed.challenge is None and "capabilities" in allowed.result
        # calls from threads at once: each still gets its own event
        results: dict[int, str] = {}

        def call(i: int) -> None:
            token = None if i % 2 else lab.token(["api:read"])
            answer = lab.call("capabilities", token=token)
            results[i] = answer.event.decision if answer.event else "none"

        threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == {i: ("deny" if i % 2 else "allow") for i in range(8)}


@pytest.mark.integration
def test_a_malformed_request_id_is_not_recorded(lab: Lab) -> None:
    for value in ("x" * 65, "a b", "\u00fcn\u00ef".encode("latin-1"), "", "a\\x00"):
        lab.client().post("/", json=rpc.request("capabilities"), headers={"X-Request-ID": value})
        assert lab.audit.events()[-1].request_id is None
    lab.client().post("/", json=rpc.request("capabilities"), headers=[("X-Request-ID", "a"), ("X-Request-ID", "b")])
    assert lab.audit.events()[-1].request_id is None


@pytest.mark.integration
def test_call_sends_the_headers_it_is_given_and_still_finds_its_own_event(lab: Lab) -> None:
    token = lab.token(["api:read"])
    allowed = lab.call("capabilities", headers={"Authorization": f"Bearer {token}"})
    assert allowed.status == 200 and allowed.event is not None and allowed.event.decision == "allow"
    # a DPoP-scheme request without its proof (lesson 14): refused, and the event is this call's, not the last one
    refused = lab.call("capabilities", headers={"Authorization": f"DPoP {token}"})
    assert refused.status == 401 and refused.event is not None and refused.reason == "dpop_proof"
    assert refused.event.request_id != allowed.event.request_id
    # the call's own X-Request-ID wins over one in the headers (its event is found by it)
    again = lab.call("capabilities", token=token, headers={"X-Request-ID": "mine"})
    assert again.event is not None and again.event.request_id != "mine"


@pytest.mark.integration
def test_one_token_request_and_its_errors() -> None:
    with Lab() as lab:
        endpoint = f"{lab.provider_url}/token"
        assert lab.token(["api:read"]).count(".") == 2
        with pytest.raises(TokenRequestError, match="invalid_scope") as refused:
            request_token(endpoint, *persona_client("limited"), ["admin"])
        assert refused.value.status == 400 and refused.value.error == "invalid_scope"
        with pytest.raises(TokenRequestError) as wrong:
            request_token(endpoint, "lab-client", "not-the-secret", "api:read")
        assert wrong.value.status == 401 and wrong.value.error == "invalid_client"
        with pytest.raises(TokenRequestError, match="405: not JSON"):
            request_token(f"{lab.provider_url}/jwks", "lab-client", "x")
        expired = lab.expired_token(["api:read"])
        assert lab.call("capabilities", token=expired).reason == "expired"
    with pytest.raises(httpx.HTTPError):
        request_token(endpoint, "lab-client", "lab-client-secret", timeout=1)  # the provider is gone


@pytest.mark.parametrize("body", [b'{"access_token": "two words"}', b'{"access_token": 5}', b"[]", b"\xff",
                                  b'{"token_type": "Bearer"}', b"[" * 100_000])
def test_a_200_without_a_usable_token_is_refused(body: bytes) -> None:
    # a hostile or broken authorization server: nothing but a b64token (RFC 6750 §2.1) is taken as a token
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    with httpx.Client(transport=transport) as http, pytest.raises(TokenRequestError, match="no usable access_token"):
        request_token("http://as.invalid/token", "c", "s", "api:read", http=http)


@pytest.mark.integration
def test_run_uses_the_labs_own_portal_and_close_stops_it() -> None:
    lab = Lab().start()
    try:
        async def loop_id() -> int:
            await asyncio.sleep(0)
            return id(asyncio.get_running_loop())

        first, second = lab.run(loop_id()), lab.run(loop_id())
        assert first == second  # one loop per lab: validators keep their clients between cells
        with pytest.raises(TimeoutError):
            lab.run(asyncio.sleep(5), timeout=0.05)
        assert any(t.name == "labkit-lab" for t in threading.enumerate())
    finally:
        lab.close()
    assert not any(t.name == "labkit-lab" and t.is_alive() for t in threading.enumerate())


@pytest.mark.integration
def test_webhook_wait_for_and_deliver() -> None:
    with Lab() as lab:
        hook = lab.webhooks.url("orders")
        lab.webhooks.expect_token("orders", "n-token")
        genuine = lab.agent.signer.sign(hook, "task-1", 60)
        assert lab.webhooks.deliver("orders", genuine, notification_token="n-token") == 200
        assert lab.webhooks.deliver("orders", genuine, notification_token="n-token") == 401  # replayed
        forged = AgentSigner(lab.agent_url).sign(hook, "task-1", 60)
        assert lab.webhooks.deliver("orders", forged, notification_token="n-token") == 401
        assert [n.task_id for n in lab.webhooks.wait_for("orders", timeout=1)] == ["task-1"]
        refused = lab.webhooks.wait_for("orders", lambda seen: len(seen) == 2, accepted=False, timeout=1)
        assert all(not n.accepted for n in refused)
        with pytest.raises(TimeoutError, match="'nothing-here'"):
            lab.webhooks.wait_for("nothing-here", timeout=0.05)


@pytest.mark.integration
def test_reloading_the_agent_leaves_no_socket_to_the_garbage_collector() -> None:
    # each reload makes the receiver trust the new agent: the validator it replaces holds a pooled connection to the
    # agent's JWKS, opened on the receiver's loop; it is closed there at shutdown, never by the garbage collector
    import gc
    import warnings

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ResourceWarning)
        with Lab() as lab:
            hook = lab.webhooks.url("orders")
            for _ in range(2):
                assert lab.webhooks.deliver("orders", lab.agent.signer.sign(hook, "task-1", 60)) == 200  # JWKS fetched
                lab.reload(lab.config)
                gc.collect()
        gc.collect()
    assert not [w for w in seen if issubclass(w.category, ResourceWarning)], [str(w.message) for w in seen]
