"""``labkit demo``: a headless tour of the lab; exit 0 only if every expectation holds."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from .auth import build_validator
from .auth._compact import parse_compact
from .config import validate_security_config
from .errors import AuthError
from .lab import Lab
from .probe import run_probe
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
    """Run the tour and print it (``as_json``: one JSON document instead of tables); returns 0 when every
    expectation holds, else 1."""
    console = Console(width=max(Console().width, 160))
    with Lab(config) as lab:
        if as_json:
            return _print_json(lab)
        console.print(f"[bold]oauth2-lab demo[/]  provider {lab.provider_url}  agent {lab.agent_url}")
        personas = persona_tour(lab)
        table = Table(title="Provider personas (simulated): claim shapes and what a SEED.md-style config grants")
        for column in personas[0]:
            table.add_column(column)
        for row in personas:
            table.add_row(*[_cell(v) for v in row.values()])
        console.print(table)

        frame = run_probe(lab)
        endpoints = list(dict.fromkeys(frame["endpoint"]))
        matrix = Table(title="Decision matrix: status per token (rows) and endpoint (columns); red = unexpected")
        matrix.add_column("token")
        for endpoint in endpoints:
            matrix.add_column(endpoint, justify="center")
        for token, group in frame.groupby("token", sort=False):
            cells = []
            for endpoint in endpoints:
                row = group[group["endpoint"] == endpoint].iloc[0]
                color = "red" if not row["ok"] else {200: "green", 401: "yellow", 403: "magenta"}.get(row["actual"], "")
                cells.append(f"[{color}]{row['actual']}[/]")
            matrix.add_row(str(token), *cells)
        console.print(matrix)

        audit = lab.audit.to_dataframe()
        summary = audit.groupby(["decision", "reason"], dropna=False).size().reset_index(name="events")
        audit_table = Table(title=f"Audit summary ({len(audit)} events, one per protected request)")
        for column in ("decision", "reason", "events"):
            audit_table.add_column(column)
        for _, entry in summary.iterrows():
            reason = entry["reason"] if isinstance(entry["reason"], str) and entry["reason"] else "-"
            audit_table.add_row(str(entry["decision"]), reason, str(entry["events"]))
        console.print(audit_table)

        failures = int((~frame["ok"]).sum()) + sum(1 for r in personas if not r["ok"])
        if failures:
            console.print(f"[red bold]{failures} expectation(s) failed[/]")
            for _, bad in frame[~frame["ok"]].iterrows():
                console.print(f"  {bad['token']} -> {bad['endpoint']}: expected {bad['expected']}, got {bad['actual']}")
            return 1
        console.print(f"[green bold]all {len(frame) + len(personas)} expectations hold[/]")
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


def _cell(value: Any) -> str:
    if value is True:
        return "[green]yes[/]"
    if value is False:
        return "[red]no[/]"
    return str(value)
