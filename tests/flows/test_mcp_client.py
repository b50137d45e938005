"""``McpClient``: the step-by-step MCP client of lesson 20 against the lab's real servers, and its registration order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.flows.client import ClientError, McpClient, registration_order
from labkit.flows.sdk import ClientMetadataHost, recorder_for
from labkit.lab import Lab
from tests.helpers import examples

NOTE = {"path": "notes.txt", "content": "x"}
SERVER: dict[str, Any] = {"client_id_metadata_document_supported": True, "registration_endpoint": "https://as/r"}


@pytest.mark.parametrize(("server", "client_id", "url", "expected"), [
    (SERVER, "pre", "https://c/doc.json", "pre-registered"),  # MCP 2025-11-25: a pre-registered client first
    (SERVER, None, "https://c/doc.json", "metadata document"),  # then a metadata document, when supported
    ({**SERVER, "client_id_metadata_document_supported": False}, None, "https://c/doc.json", "registration"),
    ({**SERVER, "client_id_metadata_document_supported": "true"}, None, "https://c/doc.json", "registration"),
    (SERVER, None, None, "registration"),  # no document to offer: DCR is the fallback
    ({}, None, "https://c/doc.json", "none"),
])
def test_registration_follows_the_spec_s_order(server: dict[str, Any], client_id: str | None, url: str | None,
                                               expected: str) -> None:
    assert registration_order(server, client_id=client_id, metadata_url=url) == expected


@settings(max_examples=examples(200))
@given(flag=st.one_of(st.booleans(), st.none(), st.text(max_size=4), st.integers()),
       endpoint=st.one_of(st.none(), st.just(""), st.just("https://as/register")),
       client_id=st.one_of(st.none(), st.just(""), st.text(min_size=1, max_size=8)),
       url=st.one_of(st.none(), st.just("https://c/doc.json")))
def test_the_order_holds_for_any_metadata(flag: object, endpoint: str | None, client_id: str | None,
                                          url: str | None) -> None:
    server = {"client_id_metadata_document_supported": flag, "registration_endpoint": endpoint}
    how = registration_order(server, client_id=client_id, metadata_url=url)
    if client_id:
        assert how == "pre-registered"  # what the client already has always comes first
    elif url and flag is True:
        assert how == "metadata document"  # only the JSON true advertises support, never "true" or 1
    else:
        assert how == ("registration" if endpoint else "none")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


@pytest.mark.integration
def test_step_up_from_read_to_what_the_challenge_names(lab: Lab) -> None:
    client = McpClient(lab)
    discovery = client.discover()
    assert discovery.challenge is not None and discovery.challenge.get("scope") is None  # the 401 names no scope
    assert "files:write" in discovery.resource["scopes_supported"]
    assert client.register() == "registration" and client.client_id
    assert client.authorize("api:read") == "api:read"
    refused = client.call_tool("write_file", NOTE)
    assert refused.status == 403 and refused.challenge is not None
    assert refused.challenge["error"] == "insufficient_scope" and refused.challenge["scope"] == "files:write"
    assert client.authorize("api:read files:write") == "api:read files:write"
    assert client.call_tool("write_file", NOTE).status == 200
    assert client.access_token and client.access_token not in repr(client)
    assert client.refresh_token and client.refresh_token not in repr(client)


@pytest.mark.integration
def test_a_reused_refresh_token_kills_the_family_and_the_client_sees_invalid_grant(lab: Lab) -> None:
    client = McpClient(lab)
    client.authorize("api:read")
    stolen = client.refresh_token
    client.refresh()
    assert client.refresh_token != stolen  # rotation
    thief = httpx.post(lab.provider_url + "/token", data={"grant_type": "refresh_token", "refresh_token": stolen,
                                                           "client_id": client.client_id})
    assert thief.status_code == 400 and thief.json()["error"] == "invalid_grant"
    with pytest.raises(ClientError) as refused:
        client.refresh()
    assert refused.value.error == "invalid_grant" and refused.value.step == "refresh"
    record = lab.provider.server().store.find_token(str(client.refresh_token))
    assert record is not None and record.revoked_reason == "refresh reuse"


@pytest.mark.integration
def test_a_metadata_document_comes_first_and_the_server_checks_it(lab: Lab) -> None:
    host = ClientMetadataHost().start()
    try:
        recorder = recorder_for(lab)
        host.trusted_by(lab, recorder)
        client = McpClient(lab, metadata_host=host, recorder=recorder)
        assert client.register() == "metadata document" and client.client_id == host.client_id
        assert client.authorize("api:read") == "api:read"
        assert [e.path for e in recorder.exchanges if e.source == "AS"] == ["/oauth/client-metadata.json"]
        assert not [e for e in recorder.exchanges if e.path == "/register"]  # no DCR
        host.document["client_id"] = "https://127.0.0.1:1/someone-else.json"
        lab.provider.cimd.clear()
        with pytest.raises(ClientError) as refused:
            client.authorize("api:read")
        assert refused.value.error == "invalid_client" and "differs from its URL" in refused.value.description
    finally:
        lab.provider.cimd.on_fetch = None
        host.stop()


@pytest.mark.integration
def test_a_pre_registered_client_is_used_as_given(lab: Lab) -> None:
    client = McpClient(lab, client_id="lab-app")
    assert client.register() == "pre-registered" and client.client_id == "lab-app"
    with pytest.raises(ClientError) as refused:  # lab-app's redirect URI is not this client's loopback one
        client.authorize("api:read")
    assert refused.value.step == "authorization" and refused.value.error == "invalid_request"
