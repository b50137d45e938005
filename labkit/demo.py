"""``labkit demo``: a headless tour of the lab; exit 0 only if every expectation holds."""

from __future__ import annotations

import json
from typing import Any

from ._tables import Cell, emit
from .auth import build_validator
from .auth.jws import parse_compact
from .config import validate_security_config
from .errors import AuthError
from .lab.runner import Lab
from .probe.matrix import run_probe
from .provider import persona_oauth2

__all__ = ["persona_tour", "run_demo"]

_SCOPE_CLAIMS = ("scope", "scp", "permissions", "roles", "realm_access", "scopes")


def persona_tour(lab: Lab) -> list[dict[str, Any]]:
    """For each persona: its token's claim shape, and what a validator configured the SEED.md way grants."""
    rows = []
    for persona in ("default", "google", "auth0", "azure", "okta", "keycloak", "github"):
        token = lab.token(["api:read", "api:write"], persona=persona)
        shape: dict[str, Any] = {}
        if token.count(".") == 2:
            claims = json.loads(parse_compact(token).payload)
            shape = {k: claims[k] for k in _SCOPE_CLAIMS if k in claims}
            issuer = claims.get("iss", "")
        else:
            issuer = "(opaque: checked at /applications/{client_id}/token)"
        audience = "google-client" if persona == "google" else "api://oauth2-lab-agent"
        cfg = validate_security_config({"oauth2": persona_oauth2(persona, lab.provider_url, audience)}, env={})
        validator = build_validator(cfg.oauth2)

        async def check(validator: Any = validator, token: str = token) -> str:
            try:
                principal = await validator.validate(token)
                return " ".join(sorted(principal.scopes)) or "(no scopes)"
            except AuthError as exc:
                return f"refused: {exc.reason.value}"
            finally:
                await validator.aclose()

        granted = lab.run(check())  # the lab's own loop: works from the CLI and from a notebook alike
        answer = lab.call("capabilities", token=token)
        at_agent, reason = answer.status, answer.reason
        expected_granted = "(no scopes)" if persona == "google" else "api:read api:write"
        rows.append({"persona": persona, "issuer": issuer.replace(lab.provider_url, "{provider}"),
                     "scope claims": json.dumps(shape, sort_keys=True), "granted (persona config)": granted,
                     "default agent": at_agent, "default agent: audit reason": reason,
                     "ok": granted == expected_granted and at_agent == (200 if persona == "default" else 401)})
    return rows


def run_demo(config: str | None = None, *, as_json: bool = False) -> int:
    """Run the tour and print it (``as_json``: one JSON document instead of tables; tables are TSV when stdout is
    not a terminal, see ``labkit._tables``); returns 0 when every expectation holds, else 1."""
    with Lab(config) as lab:
        if as_json:
            return _print_json(lab)
        print(f"oauth2-lab demo  provider {lab.provider_url}  agent {lab.agent_url}")
        personas = persona_tour(lab)
        emit("Provider personas (simulated): claim shapes and what a SEED.md-style config grants",
             list(personas[0]), [[_cell(v) for v in row.values()] for row in personas])

        frame = run_probe(lab)
        endpoints = list(dict.fromkeys(frame["endpoint"]))
        rows: list[list[Cell]] = []
        for token, group in frame.groupby("token", sort=False):
            cells: list[Cell] = [str(token)]
            for endpoint in endpoints:
                row = group[group["endpoint"] == endpoint].iloc[0]
                color = "red" if not row["ok"] else {200: "green", 401: "yellow", 403: "magenta"}.get(row["actual"], "")
                cells.append((str(row["actual"]), color))
            rows.append(cells)
        emit("Decision matrix: status per token (rows) and endpoint (columns); red = unexpected",
             ["token", *endpoints], rows, justify=["left", *["center"] * len(endpoints)])

        audit = lab.audit.to_dataframe()
        summary = audit.groupby(["decision", "reason"], dropna=False).size().reset_index(name="events")
        emit(f"Audit summary ({len(audit)} events, one per protected request)", ["decision", "reason", "events"],
             [[str(entry["decision"]), entry["reason"] if isinstance(entry["reason"], str) and entry["reason"]
               else "-", str(entry["events"])] for _, entry in summary.iterrows()])

        failures = int((~frame["ok"]).sum()) + sum(1 for r in personas if not r["ok"])
        if failures:
            print(f"{failures} expectation(s) failed")
            for _, bad in frame[~frame["ok"]].iterrows():
                print(f"  {bad['token']} -> {bad['endpoint']}: expected {bad['expected']}, got {bad['actual']}")
            return 1
        print(f"all {len(frame) + len(personas)} expectations hold")
        return 0


def _print_json(lab: Lab) -> int:
    """The tour as one JSON document on stdout: personas, the decision matrix, the audit summary, failures."""
    personas = persona_tour(lab)
    frame = run_probe(lab)
    audit = lab.audit.to_dataframe()
    summary = audit.groupby(["decision", "reason"], dropna=False).size().reset_index(name="events")
    failures = int((~frame["ok"]).sum()) + sum(1 for r in personas if not r["ok"])
    print(json.dumps({
        "provider": lab.provider_url, "agent": lab.agent_url, "personas": personas,
        "matrix": json.loads(frame.to_json(orient="records")), "audit": json.loads(summary.to_json(orient="records")),
        "failures": failures, "ok": failures == 0,
    }, indent=2))
    return 0 if failures == 0 else 1


def _cell(value: Any) -> Cell:
    if value is True:
        return ("yes", "green")
    if value is False:
        return ("no", "red")
    return str(value)
