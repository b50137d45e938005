"""Lesson 17's UNSAFE passthrough proxy: the passthrough is real (the upstream serves the caller's token, the proxy
invisible), the exchange fixes it, bad input gets a clear answer, and no configuration can start it."""

from __future__ import annotations

import httpx
import pytest

from labkit.challenges.lessons.lesson_17 import CALLER_SCOPES, through_proxy
from labkit.flows.delegation import call_downstream_as, user_token
from labkit.lab import Lab
from labkit.lab.downstream import DOWNSTREAM_AUDIENCE
from labkit.provider.models import token_hash

from . import proxy_fixtures

pytestmark = pytest.mark.integration
lab, shipped = proxy_fixtures.lab, proxy_fixtures.shipped  # one Lab(proxy=True) per module


def test_passthrough_forwards_the_callers_token_unchanged(lab: Lab, shipped: None) -> None:
    assert lab.proxy is not None and lab.downstream is not None
    alice = user_token(lab, scopes=CALLER_SCOPES, resource=lab.proxy.url)
    assert through_proxy(lab, alice).status_code == 200
    seen = lab.downstream.audit.events()[-1]
    # the very token alice's client got for the proxy, served upstream; the proxy appears nowhere
    assert seen.fingerprint == token_hash(alice)[:12] and seen.actors == () and seen.client == "lab-web"
    assert lab.proxy.forwarded[seen.request_id or ""] == "passthrough"
    assert call_downstream_as(lab, alice).status_code == 200  # the upstream checks no audience as shipped


def test_exchange_then_audience_check_fix_it(lab: Lab, shipped: None) -> None:
    assert lab.proxy is not None and lab.downstream is not None
    lab.proxy.configure(passthrough=False, scope="api:write")
    lab.downstream.reload(lab.downstream.rule, check_audience=True)
    alice = user_token(lab, scopes=CALLER_SCOPES, resource=lab.proxy.url)
    assert through_proxy(lab, alice).status_code == 200
    seen = lab.downstream.audit.events()[-1]
    assert seen.actors == ("lab-proxy",) and seen.subject == "alice" and seen.scopes == ("api:write",)
    assert seen.fingerprint != token_hash(alice)[:12]
    assert call_downstream_as(lab, alice).status_code == 401
    assert lab.downstream.audit.events()[-1].reason == "audience"
    assert lab.downstream.config.oauth2.audiences == (DOWNSTREAM_AUDIENCE,)


def test_the_exchange_refuses_a_token_not_issued_for_the_proxy(lab: Lab, shipped: None) -> None:
    assert lab.proxy is not None and lab.downstream is not None
    lab.proxy.configure(passthrough=False, scope="api:write")
    before = lab.downstream.audit.total
    answer = through_proxy(lab, user_token(lab, scopes=CALLER_SCOPES))  # for the agent, not the proxy
    assert answer.status_code == 403 and "invalid_grant" in answer.text
    assert lab.downstream.audit.total == before  # nothing reached the upstream


def test_bad_input_gets_a_clear_answer(lab: Lab) -> None:
    assert lab.proxy is not None
    with httpx.Client(timeout=10, trust_env=False) as http:
        none = http.post(lab.proxy.url + "/", json={})
        basic = http.post(lab.proxy.url + "/", json={}, headers={"Authorization": "Basic YTpi"})
        large = http.post(lab.proxy.url + "/", content=b"x" * 70_000, headers={"Authorization": "Bearer t"})
    assert none.status_code == basic.status_code == 401 and "bearer" in none.json()["error"]["message"]
    assert large.status_code == 413
    with pytest.raises(ValueError, match="scope"):
        lab.proxy.configure(passthrough=False, scope="  ")


def test_no_proxy_unless_the_lab_asks() -> None:
    raw = {"security": {"oauth2": {"jwks_url": "${LAB_PROVIDER_URL}/jwks", "jwt_algorithms": ["RS256"],
                                   "jwt_issuer": "${LAB_PROVIDER_URL}", "jwt_audience": "api://oauth2-lab-agent"}},
           "proxy": True}
    with Lab(raw, downstream=True) as lab:
        assert lab.proxy is None
        assert lab.downstream is not None and lab.downstream.check_audience  # audience checked unless lesson 17


def test_a_refused_reload_keeps_the_upstream_as_it_was(lab: Lab, shipped: None) -> None:
    from labkit.config import ConfigError

    assert lab.downstream is not None
    with pytest.raises(ConfigError, match="max_delegation_depth"):
        lab.downstream.reload({"max_delegation_depth": -1}, check_audience=True)
    assert not lab.downstream.check_audience and lab.downstream.config.oauth2.audiences == ()
