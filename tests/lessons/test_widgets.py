"""Widgets driven headlessly: set values, click, read the state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labkit.lab import Lab
from labkit.widgets import AuditViewer, ConfigBuilder, EndpointTester, ScopeExplorer, TokenMinter
from labkit.widgets.scope_explorer import ScopeExplorerState
from sample_agent import default_config_path


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


def test_scope_explorer_state() -> None:
    state = ScopeExplorerState("admin: ['*']\napi:write: [api:read]\n", {"api:write"})
    table = state.table().set_index("scope")
    assert bool(table.loc["api:read", "effective"]) and table.loc["api:read", "chain"] == "api:write -> api:read"
    assert not bool(table.loc["admin", "effective"])
    assert "<svg" in state.svg() and "api:write" in state.svg()
    broken = ScopeExplorerState("api read: [x]\n")
    broken.table()
    assert broken.error and "not a valid scope name" in broken.error


@pytest.mark.integration
def test_scope_explorer_widget(lab: Lab) -> None:
    explorer = ScopeExplorer(lab.config.scope_hierarchy, lab.agent.policy, granted={"api:read"})
    assert set(explorer.state.reachable().query("reachable")["capability"]) == {"echo", "get_time"}
    explorer.set(granted={"admin"})
    assert explorer.state.reachable()["reachable"].all()
    assert len(explorer.out.outputs) == 3  # graph, table, reach
    explorer.set(hierarchy_text="files:write: [files:read]\n", granted={"files:write"})
    reach = explorer.state.reachable().set_index("capability")["reachable"]
    assert reach["read_file"] and reach["write_file"] and not reach["echo"]
    explorer.apply.click()
    assert "granted" in explorer.status.value


@pytest.mark.integration
def test_config_builder(lab: Lab) -> None:
    builder = ConfigBuilder(lab)
    assert builder.state.config is not None and builder.state.errors == []
    builder.set(jwt_audience="", jwt_algorithms="none", hierarchy="api read: []")
    paths = {path for path, _ in builder.state.errors}
    assert {"security.oauth2.jwt_algorithms", "security.scope_hierarchy.api read"} <= paths
    assert builder.load_into_lab() is False
    builder.set(jwt_algorithms="RS256 ES256", hierarchy="api:write: [api:read]", jwt_audience="api://oauth2-lab-agent",
                required_scopes="api:read")
    assert builder.state.config is not None
    assert "required_scopes" in builder.state.yaml()
    assert builder.load_into_lab() is True
    assert lab.config.oauth2.required_scopes == ["api:read"]
    token = lab.token(["api:write"])
    assert lab.rpc("capabilities", token=token).status_code == 200  # api:write implies the required api:read
    assert lab.rpc("capabilities", token=lab.token(["files:read"])).status_code == 403
    builder.set(env="SECRET_FROM_ENV=0123456789abcdef0123456789abcdef", jwt_secret="${SECRET_FROM_ENV}",
                validation_strategy="jwt", jwt_algorithms="HS256", jwks_url="")
    assert builder.state.config is not None and builder.state.config.oauth2.jwt_secret is not None
    lab.reload(default_config_path())  # back to the lab's own configuration for the next tests


@pytest.mark.integration
def test_token_minter(lab: Lab) -> None:
    minter = TokenMinter(lab)
    minter.scopes.value = ("api:read", "files:write")
    state = minter.mint()
    assert state.status == 200 and state.claims is not None
    assert state.claims["claims"]["scope"] == "api:read files:write"
    minter.persona.value = "limited"
    minter.scopes.value = ("admin",)
    assert minter.mint().error is not None and "invalid_scope" in minter.state.error
    minter.persona.value = "default"
    minter.scopes.value = ("api:read",)
    minter.lifetime.value = -30
    assert minter.mint().status == 401 and minter.state.reason == "expired"


@pytest.mark.integration
def test_endpoint_tester_and_audit_viewer(lab: Lab) -> None:
    tester = EndpointTester(lab)
    tester.button.click()
    assert tester.state.all_ok and tester.progress.value == tester.state.total > 100
    matrix = tester.state.matrix()
    assert matrix.loc["none", "capabilities"] == 401 and matrix.loc["admin", "execute admin_status"] == 200
    viewer = AuditViewer(lab.audit)
    viewer.decision.value = "deny"
    viewer.reason.value = "expired"
    frame = viewer.state.filtered(lab.audit)
    assert len(frame) > 0 and set(frame["reason"]) == {"expired"}


@pytest.mark.integration
def test_config_builder_refuses_a_stopped_lab() -> None:
    stopped = Lab()
    try:
        builder = ConfigBuilder(stopped)
        assert builder.state.config is not None or builder.state.errors is not None
        assert builder.load_into_lab() is False and "stopped" in builder.message.value
        stopped.start()
        assert stopped.running
        builder.refresh()
        assert builder.load_into_lab() is True
    finally:
        stopped.close()
    assert not stopped.running
    assert builder.load_into_lab() is False and "stopped" in builder.message.value


@pytest.mark.integration
def test_endpoint_tester_predictions(lab: Lab) -> None:
    tester = EndpointTester(lab)
    tester.predict("expired", "capabilities", 401)
    tester.predict("api:read", "execute write_operation", 200)  # wrong: it needs api:write
    assert list(tester.state.score()["actual"]) == ["(run first)"] * 2
    with pytest.raises(ValueError, match="predict 200"):
        tester.state.predict("expired", "capabilities", 500)
    tester.run()
    score = tester.state.score()
    assert list(score["actual"]) == [401, 403] and list(score["right"]) == [True, False]
    assert len(tester.out.outputs) == 2  # the score, then the matrix


@pytest.mark.integration
def test_endpoint_tester_prediction_form_starts_empty(lab: Lab) -> None:
    tester = EndpointTester(lab)
    assert (tester.guess_token.value, tester.guess_endpoint.value, tester.guess_status.value) == (None, None, None)
    tester.guess_button.click()  # nothing chosen: nothing written down for the learner
    assert tester.state.predictions == {} and "choose a token, an endpoint, a status" in str(tester.out.outputs)
    tester.guess_token.value, tester.guess_endpoint.value = "expired", "capabilities"
    tester.guess_button.click()
    assert tester.state.predictions == {} and "choose a status" in str(tester.out.outputs)
    tester.guess_status.value = 401
    tester.guess_button.click()
    assert tester.state.predictions == {("expired", "capabilities"): 401}


@pytest.mark.integration
def test_token_minter_edits_and_resigns(lab: Lab) -> None:
    minter = TokenMinter(lab)
    minter.scopes.value = ("api:read",)
    state = minter.mint()
    assert state.claims is not None and state.claims["claims"]["client_id"] == "lab-client"
    assert state.times["exp"].endswith("Z") and "T" in state.times["iat"]
    minter.claim.value, minter.value.value = "scope", '"admin"'
    results = {}
    for signer in ("old signature", "attacker key", "issuer key"):
        minter.sign_with.value = signer
        edited = minter.edit()
        assert edited.edited_claims is not None and edited.edited_claims["claims"]["scope"] == "admin"
        results[signer] = (edited.edited_status, edited.edited_reason)
    assert results == {"old signature": (401, "signature"), "attacker key": (401, "signature"),
                       "issuer key": (200, None)}
    minter.claim.value, minter.value.value, minter.sign_with.value = "exp", "null", "issuer key"
    assert minter.edit().edited_status == 401 and minter.state.edited_reason == "claims"  # RFC 9068: exp required
    minter.lifetime.value = 60
    assert minter.mint().claims["claims"]["client_id"] == "lab-client"  # no made-up client for a lifetime
    minter.persona.value = "opaque"
    minter.lifetime.value = 3600
    minter.mint()
    assert "opaque" in (minter.edit().error or "")
    minter.persona.value = "limited"
    minter.scopes.value = ("admin",)
    minter.lifetime.value = 60
    assert "invalid_scope" in (minter.mint().error or "")
    minter.button.click()  # errors stay inside the widget
    assert minter.state.error and len(minter.out.outputs) == 1


@pytest.mark.integration
def test_challenge_card(lab: Lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from labkit.challenges import start

    card = start("00", lab, progress=tmp_path / "progress.json").card()
    card.hint_button.click()
    assert len(card.out.outputs) == 1
    lab.rpc("execute", {"capability": "write_operation"}, token=lab.token(["api:read"]))
    lab.rpc("execute", {"capability": "write_operation"}, token=lab.token(["api:write"]))
    card.check_button.click()
    assert "labkit-challenge-result" in card.out.outputs[-1]["data"]["text/html"]
    assert "solved:" in card.out.outputs[-1]["data"]["text/html"]
    broken = start("01", lab, progress=tmp_path / "progress.json").card()
    assert not broken.check().solved  # no config given: a verdict, not an exception
