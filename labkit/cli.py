"""The ``labkit`` command line (see ``labkit --help``): lab, serve, cluster, demo, mint, audit, validate-config.

One module on purpose (about 400 lines): the parser and each command's short wiring read together as the CLI's
contract; the work itself lives in the modules each command imports (lazily, so ``--help`` stays fast).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from . import __version__
from ._extras import command_needs, missing_extra
from ._text import safe_text
from .config import load_config
from .errors import ConfigError, ConfigFileError

__all__ = ["EPILOG", "main"]

EPILOG = "Lab-only keys, clients and secrets are public on purpose; never reuse them anywhere else."


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error said in one line (``labkit mint: argument --provider: not an http(s) URL``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {safe_text(message, 300)} (see {self.prog} --help)\n")


def _command(sub: Any, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand whose one-line summary is both its line in ``labkit --help`` and the top of its own help."""
    parser: argparse.ArgumentParser = sub.add_parser(name, help=summary, description=summary[0].upper() + summary[1:]
                                                     + ".", epilog=EPILOG)
    return parser


def _http_url(value: str) -> str:
    """An argparse type: an absolute http(s) URL with a host, else a usage error (exit 2) in plain words."""
    try:
        parts = urlsplit(value) if not any(c.isspace() for c in value) else None
        host = parts.hostname if parts is not None else None
    except ValueError:  # "http://[::1": an unclosed IPv6 literal
        parts = host = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {safe_text(value, 200)!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="labkit", description="oauth2-lab: an interactive OAuth2 security lab for AI agents", epilog=EPILOG
    )
    parser.add_argument("--version", action="version", version=f"labkit (oauth2-lab) {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    lab = _command(sub, "lab", "start the provider and the agent, then JupyterLab on your copy of the lessons")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser (headless)")
    lab.add_argument("--config", help="agentup.yml for the agent (default: sample_agent/agentup.yml)")
    lab.add_argument("--port", type=int, default=8888, help="JupyterLab port (default 8888)")
    lab.add_argument("--ip", default="127.0.0.1", help="JupyterLab address (default 127.0.0.1)")
    lab.add_argument("--lessons", help="your lessons folder (default ./labkit-lessons): a copy of the shipped "
                     "lessons, made once; your edits there are kept")
    lab.add_argument("--reset", nargs="+", metavar="NN", help="put lesson NN of your lessons folder back as shipped "
                     "(your version is kept as NN_....ipynb.bak), then exit")

    serve = _command(sub, "serve", "run the provider and the agent in the foreground (Ctrl-C stops)")
    serve.add_argument("--config", help="agentup.yml for the agent (default: sample_agent/agentup.yml)")
    serve.add_argument("--provider-port", type=int, default=0, help="provider port (default: a free one)")
    serve.add_argument("--agent-port", type=int, default=0, help="agent port (default: a free one)")
    serve.add_argument("--audit-log", help="append the audit log to this JSONL file")
    serve.add_argument("--host", default="127.0.0.1", help="address of the provider and the agent (default 127.0.0.1)")
    serve.add_argument("--public-url", help="the agent's URL as clients see it behind a proxy (used in its cards "
                       "and RFC 9728 metadata; its host:port is served besides loopback, any other Host gets 421)")

    cluster = _command(sub, "cluster", "the agent as N replicas behind nginx, with Redis and PostgreSQL")
    cluster.add_argument("--replicas", type=int, default=3, help="agent processes (1 to 32, default 3)")
    cluster.add_argument("--config", help="agentup.yml for the agent (default: sample_agent/agentup.yml)")

    room = _command(sub, "classroom", "a local JupyterHub for a class: a lab per learner, the instructor's board")
    room.add_argument("--folder", default="labkit-classroom", help="the hub's state, learners' homes and the "
                      "board's database (default ./labkit-classroom; kept between runs)")
    room.add_argument("--port", type=int, default=8000, help="the hub's port (default 8000)")
    room.add_argument("--ip", default="127.0.0.1", help="the hub's address (default 127.0.0.1; 0.0.0.0 for a room)")
    room.add_argument("--password", default=os.environ.get("LABKIT_CLASSROOM_PASSWORD"), help="the learners' "
                      "shared password, 8+ characters (default: $LABKIT_CLASSROOM_PASSWORD, else one is made)")
    room.add_argument("--instructor-password", default=os.environ.get("LABKIT_CLASSROOM_INSTRUCTOR_PASSWORD"),
                      help="signing in with it puts one in the instructors group, 16+ characters (default: "
                      "$LABKIT_CLASSROOM_INSTRUCTOR_PASSWORD, else one is made; prefer the variable: a command "
                      "line is visible to every user of the machine, learners included)")
    room.add_argument("--database", help="the board's SQLAlchemy URL, e.g. postgresql+asyncpg://... (default: "
                      "SQLite in --folder)")

    demo = _command(sub, "demo", "headless tour: personas, every endpoint, the decision matrix, the audit")
    demo.add_argument("--config", help="agentup.yml for the agent (default: sample_agent/agentup.yml)")
    demo.add_argument("--json", action="store_true", help="print one JSON document instead of tables")

    mint = _command(sub, "mint", "print one access token from a running lab provider (and nothing else)")
    mint.add_argument("--scope", default="api:read", help='space-separated scopes, e.g. "api:read files:write"')
    mint.add_argument("--provider", default=os.environ.get("LAB_PROVIDER_URL"), type=_http_url,
                      help="provider URL (default: $LAB_PROVIDER_URL, as printed by labkit serve)")
    mint.add_argument("--persona", default="default", help="default, limited, opaque, google, auth0, azure, okta, "
                      "keycloak or github")
    mint.add_argument("--lifetime", type=int, help="token lifetime in seconds (negative: already expired); uses the "
                      "provider's admin API: its secret from $LAB_ADMIN_TOKEN or the file labkit serve wrote")
    mint.add_argument("--tenant", help="a provider path tenant (acme, globex)")
    mint.add_argument("--resource", type=_http_url, help="RFC 8707 resource: the token's audience is this resource "
                      "(for instance the agent's /mcp URL, as its RFC 9728 metadata names it)")
    mint.add_argument("--audience", help="the token's aud, whatever the client may ask (the admin API, as --lifetime)")
    mint.add_argument("--subject", help="the token's sub (the admin API, as --lifetime)")

    audit = _command(sub, "audit", "tabulate a JSONL audit log")
    audit.add_argument("file", help="the JSONL audit file (LABKIT_AUDIT_LOG or labkit serve --audit-log)")
    audit.add_argument("--last", type=int, default=50, help="how many of the latest events to list (default 50)")
    audit.add_argument("--json", action="store_true", help="print the latest events as JSON lines instead")

    check = _command(sub, "validate-config", "check an agentup.yml security configuration")
    check.add_argument("file", help="path to agentup.yml (a .env beside it is loaded)")
    check.add_argument("--json", action="store_true", help="print one JSON document (for CI and pre-commit hooks)")
    explain = _command(sub, "explain", "the effective policy of an agentup.yml, and where it is weak")
    explain.add_argument("file", help="path to agentup.yml (a .env beside it is loaded)")
    explain.add_argument("--json", action="store_true", help="print one JSON document (for CI and pre-commit hooks)")
    explain.add_argument("--sample-agent", action="store_true", help="also list the sample agent's endpoints and "
                         "calls under this configuration (what `labkit serve --config FILE` would enforce)")
    probe = _command(sub, "probe", "what any A2A/MCP agent advertises, and whether it refuses bad tokens")
    probe.add_argument("url", type=_http_url, help="the agent's URL (its root for the A2A card, or an MCP endpoint)")
    probe.add_argument("--provider", type=_http_url,
                       help="the lab provider's URL (lab-client tokens, expired ones by /admin/mint)")
    probe.add_argument("--client-id", help="a client of YOUR token endpoint (client credentials; with --token-url "
                                           "or --issuer: the target's advertised one is never sent the secret)")
    probe.add_argument("--client-secret", help="its secret (default: $LABKIT_PROBE_CLIENT_SECRET)",
                       default=os.environ.get("LABKIT_PROBE_CLIENT_SECRET"))
    probe.add_argument("--token-url", type=_http_url, help="the token endpoint --client-id's secret goes to")
    probe.add_argument("--issuer", type=_http_url,
                       help="an issuer whose RFC 8414 metadata names the token endpoint (and keys)")
    probe.add_argument("--token-file", help="a file holding one good access token")
    probe.add_argument("--json", action="store_true", help="print the report as JSON")
    probe.add_argument("--timeout", type=float, default=15,
                       help="seconds per fetch, all of it (default 15); the whole probe within 20 times that")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 failed check, 2 usage)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        command_needs(args.command)
        return int(_COMMANDS[args.command](args))
    except ModuleNotFoundError as exc:  # a partial install: one line naming the extra (labkit/_extras.py), exit 2
        missing = missing_extra(exc, f"labkit {args.command}")
        if missing is None:
            raise
        print(missing, file=sys.stderr)
        return 2
    except ConfigFileError as exc:  # an I/O problem, not an invalid configuration: a usage error
        print(f"labkit {args.command}: {safe_text(exc.path)}: {exc.problem}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"labkit {args.command}: invalid configuration", file=sys.stderr)
        for where, message in exc.errors:
            print(f"  {where or '<root>'}: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `labkit explain FILE | head`: the reader left; say nothing more, as cat does
        _quiet_stdout()
        return 141  # 128 + SIGPIPE, as a shell reports a command the pipe stopped


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail a second time on a closed pipe."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _validate_config(args: argparse.Namespace) -> int:
    """``labkit validate-config FILE [--json]``: 0 valid, 1 invalid (every error with its path), 2 unreadable."""
    path = args.file
    try:
        cfg = load_config(path)
    except ConfigFileError:
        raise
    except ConfigError as exc:
        if args.json:
            print(json.dumps({"file": path, "valid": False,
                              "errors": [{"path": where, "message": message} for where, message in exc.errors]},
                             indent=2))
        else:
            print(f"{path}: invalid", file=sys.stderr)
            for where, message in exc.errors:
                print(f"  {where or '<root>'}: {message}", file=sys.stderr)
        return 1
    oauth2 = cfg.oauth2
    summary: dict[str, Any] = {"file": path, "valid": True, "strategy": oauth2.validation_strategy}
    if oauth2.validation_strategy != "introspection":
        summary["algorithms"] = list(oauth2.algorithms)
    if oauth2.validation_strategy != "jwt":
        summary["introspection"] = oauth2.dialect
    summary.update({"scopes_in_hierarchy": len(oauth2.hierarchy.scopes()), "plugins": len(cfg.plugins),
                    "middleware": len(cfg.middleware), "tenants": len(cfg.tenants)})
    if args.json:
        print(cfg.redact(json.dumps(summary, indent=2)))
        return 0
    print(f"{path}: valid")
    print(f"  strategy: {oauth2.validation_strategy}")
    if "algorithms" in summary:
        print(f"  algorithms: {', '.join(oauth2.algorithms)}")
    if "introspection" in summary:
        print(f"  introspection: {oauth2.dialect}")
    print(f"  scopes in hierarchy: {summary['scopes_in_hierarchy']}; plugins: {len(cfg.plugins)}; "
          f"middleware: {len(cfg.middleware)}; tenants: {len(cfg.tenants)}")
    return 0


def _explain(args: argparse.Namespace) -> int:
    """``labkit explain FILE``: the configuration's own policy (any app), the weaknesses, and with
    ``--sample-agent`` the sample agent's endpoints under it (exit 1 if invalid, 2 if unreadable)."""
    from .explain import Explanation, explain_config

    cfg = load_config(args.file)
    own = explain_config(cfg)
    agent: Explanation | None = None
    if args.sample_agent:
        from sample_agent.plugins import endpoint_policy, map_plugins

        from .explain import explain

        policy, plugins = endpoint_policy(cfg)
        agent = explain(cfg, policy, plugins, notes=map_plugins(cfg.plugins, cfg.mcp_servers).lines())
    if args.json:
        def rows(result: Explanation) -> list[dict[str, Any]]:
            return [{"endpoint": r.endpoint, "call": r.call, "plugin": r.plugin, "requires": list(r.required),
                     "granted_by": list(r.granted_by)} for r in result.rows]

        document: dict[str, Any] = {
            "file": args.file, "valid": True, "strategy": cfg.oauth2.validation_strategy, "policy": rows(own),
            "weaknesses": [{"path": w.path, "message": w.message} for w in own.weaknesses],
            "ignored_sections": list(cfg.ignored_sections)}
        if agent is not None:
            document["sample_agent"] = {"policy": rows(agent), "notes": list(agent.notes)}
        print(cfg.redact(json.dumps(document, indent=2)))  # a value from ${VAR} is named, never shown
        return 0
    lines = [f"{args.file}: valid (strategy {cfg.oauth2.validation_strategy}); the policy it declares, for any app:",
             own.table()]
    if agent is not None:
        lines += ["", "the sample agent under it (labkit serve --config FILE):", agent.table(),
                  *(f"  {note}" for note in agent.notes)]
    if cfg.ignored_sections:
        lines.append(f"accepted, not modelled by the lab: {', '.join(cfg.ignored_sections)}")
    lines.append(f"warnings: {len(own.weaknesses)}")
    lines += [f"  {weakness.path}: {weakness.message}" for weakness in own.weaknesses]
    print(cfg.redact("\n".join(lines)))  # a value from ${VAR} is named, never shown (labkit.config.env)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .lab.runner import Lab
    from .servers import StopSignals, freeze_start_up

    if args.public_url and not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", args.public_url):
        print(f"labkit serve: --public-url must be an http(s) URL, not {args.public_url!r}", file=sys.stderr)
        return 2
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"labkit serve: listening on {args.host}: the lab's keys and secrets are public, never expose it "
              "beyond a network you trust", file=sys.stderr)
    # an application configures logging: labkit's operator logs (JWKS, introspection) go to stderr
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with StopSignals() as stops, Lab(args.config, provider_port=args.provider_port, agent_port=args.agent_port,
                                     audit_path=args.audit_log, host=args.host, public_url=args.public_url,
                                     capture_logs=False) as lab, _admin_secret_kept(lab):
        print(f"provider: {lab.provider_url}", flush=True)
        print(f"agent: {lab.agent_url}", flush=True)
        for line in lab.plugin_mapping().lines():  # how the user's plugin ids met the sample agent's
            # an id taken from ${VAR} is named, never shown (labkit.config.env)
            print(f"config: {safe_text(lab.config.redact(line), 300)}", file=sys.stderr)
        print("Ctrl-C stops.", file=sys.stderr, flush=True)
        freeze_start_up()  # this process only serves from here on
        signum = stops.wait() or 0
    _exit_now(128 + signum)  # as shells report a signal: 130 for SIGINT, 143 for SIGTERM


@contextlib.contextmanager
def _admin_secret_kept(lab: Any) -> Iterator[None]:
    """While the lab runs, its provider's admin secret is in a 0600 file of this user (``labkit mint --lifetime``
    and ``labkit probe --provider`` read it); the file is removed when the lab stops."""
    from .provider.admin import write_admin_secret

    port = urlsplit(lab.provider_url).port or 80
    try:
        path = write_admin_secret(lab.provider.admin_token, port)
    except OSError as exc:
        print(f"labkit: the provider's admin secret is not kept ({safe_text(exc.strerror or str(exc))}): /admin/* "
              "answer only this process", file=sys.stderr)
        yield
        return
    print(f"admin: the provider's admin secret is in {path} (0600; labkit mint --lifetime reads it)", file=sys.stderr)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _cluster(args: argparse.Namespace) -> int:
    """``labkit cluster``: like ``serve``, with the agent as replicas behind nginx (see ``labkit.cluster``)."""
    from .cluster import Cluster, MissingServiceError
    from .servers import StopSignals

    if not 1 <= args.replicas <= 32:
        print("labkit cluster: --replicas must be between 1 and 32", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with StopSignals() as stops:
        try:
            cluster = Cluster(args.replicas, config=args.config).start()
        except MissingServiceError as exc:
            print(f"labkit cluster: {exc}", file=sys.stderr)
            return 1
        except RuntimeError as exc:
            print(f"labkit cluster: {safe_text(str(exc), 300)}", file=sys.stderr)
            return 1
        try:
            print(f"provider: {cluster.provider_url}", flush=True)
            print(f"agent: {cluster.agent_url}", flush=True)
            print(f"replicas: {', '.join(r.url for r in cluster.replicas)} (logs in {cluster.folder})", file=sys.stderr)
            print("Ctrl-C stops.", file=sys.stderr, flush=True)
            signum = stops.wait() or 0
        finally:
            cluster.close()
    _exit_now(128 + signum)


def _classroom(args: argparse.Namespace) -> int:
    """``labkit classroom``: a local JupyterHub for a workshop (see ``labkit.classroom``); Ctrl-C stops it all."""
    from .classroom import Classroom, ClassroomError
    from .servers import StopSignals

    room = Classroom(Path(args.folder), port=args.port, ip=args.ip, database=args.database)
    made = [name for name, given in (("learners", args.password), ("instructors", args.instructor_password))
            if not given]
    room.password = args.password or room.password
    room.instructor_password = args.instructor_password or room.instructor_password
    if len(room.password) < 8 or len(room.instructor_password) < 16 or room.password == room.instructor_password:
        print("labkit classroom: the learners' password needs 8+ characters, the instructors' 16+, and they must "
              "differ", file=sys.stderr)
        return 2
    with StopSignals() as stops:
        try:
            room.start()
        except ClassroomError as exc:
            print(f"labkit classroom: {safe_text(str(exc), 4000)}", file=sys.stderr)
            return 1
        try:
            print(f"hub: {room.url}/hub/login (log in {room.folder / 'jupyterhub.log'})", flush=True)
            print(f"board: {room.url}/services/board/ (instructors)", flush=True)
            for name in made:  # generated here: shown once, to the person who runs the class
                print(f"{name}' password: {room.password if name == 'learners' else room.instructor_password}")
            print("Ctrl-C stops.", file=sys.stderr, flush=True)
            signum = stops.wait() or 0
        finally:
            room.stop()
    _exit_now(128 + signum)


def _lessons_dir(chosen: str | None) -> Path:
    """The folder JupyterLab opens: ``chosen``, else ``./labkit-lessons``, a copy of the shipped lessons (never the
    shipped folder itself; a lesson already there is kept, edits and all). Raises ``WorkspaceError``."""
    from .lab.workspace import open_workspace

    return open_workspace(chosen)


def _exit_now(status: int) -> NoReturn:
    """Exit at once after a stop signal, everything already closed: the interpreter's own teardown of the
    SDKs' modules takes longer than the servers' shutdown, and the stop must take under 2 s."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _mint(args: argparse.Namespace) -> int:
    import httpx

    from .lab.calls import TokenRequestError, admin_mint, request_token
    from .provider.admin import admin_secret_for
    from .provider.personas import persona_client

    if not args.provider:
        print("labkit mint: no provider; pass --provider URL (labkit serve prints it) or set LAB_PROVIDER_URL",
              file=sys.stderr)
        return 2
    try:
        client_id, secret = persona_client(args.persona)
    except ValueError as exc:
        print(f"labkit mint: {exc}", file=sys.stderr)
        return 2
    base = args.provider.rstrip("/") + (f"/{args.tenant}" if args.tenant else "")
    try:
        admin = [name for name, value in (("--lifetime", args.lifetime), ("--audience", args.audience),
                                           ("--subject", args.subject)) if value is not None]
        if admin and args.resource:
            print(f"labkit mint: --resource goes to the token endpoint; {admin[0]} to the admin API: give one",
                  file=sys.stderr)
            return 2
        if admin:
            persona = None if args.persona in ("default", "limited", "opaque") else args.persona
            admin_secret = admin_secret_for(args.provider)
            if admin_secret is None:
                print(f"labkit mint: {admin[0]} needs the provider's admin secret: set LAB_ADMIN_TOKEN, or mint from "
                      "a provider that labkit serve or labkit lab started on this machine", file=sys.stderr)
                return 2
            token = admin_mint(base, args.scope.split(), lifetime=3600 if args.lifetime is None else args.lifetime,
                               client_id=client_id, persona=persona, admin_token=admin_secret,
                               audience=args.audience, subject=args.subject)
        else:
            token = request_token(f"{base}/token", client_id, secret, args.scope, resource=args.resource)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        print(f"labkit mint: cannot reach {safe_text(base)}: {exc.__class__.__name__}", file=sys.stderr)
        return 1
    except TokenRequestError as exc:
        if exc.status == 200:
            print(f"labkit mint: {safe_text(base)} answered 200 without a usable access_token", file=sys.stderr)
        else:
            print(f"labkit mint: the provider refused ({exc.status}): {safe_text(exc.error)}", file=sys.stderr)
        return 1
    print(token)
    return 0


def _audit(args: argparse.Namespace) -> int:
    from ._tables import Cell, emit
    from .audit import InvalidLine, read_audit_file

    try:
        rows = read_audit_file(args.file)
    except OSError as exc:
        print(f"labkit audit: {safe_text(args.file)}: {safe_text(exc.strerror or exc.__class__.__name__)}",
              file=sys.stderr)
        return 1
    shown = rows[-args.last:] if args.last > 0 else []
    if args.json:  # one object per line; ensure_ascii keeps a client's control characters off the terminal
        for number, row in shown:
            data = {"line": number, "invalid": row.problem} if isinstance(row, InvalidLine) else asdict(row)
            print(json.dumps(data, ensure_ascii=True, separators=(",", ":")))
        return 1 if any(isinstance(row, InvalidLine) for _, row in rows) else 0
    # Cells are data, never markup; AuditEvent already escaped control characters. A pipe gets TSV (labkit._tables).
    table: list[list[Cell]] = []
    for number, row in shown:
        if isinstance(row, InvalidLine):
            table.append([str(number), ("invalid", "yellow"), safe_text(row.problem), "", "", "", "", "", ""])
            continue
        cells = [row.reason, row.status, row.endpoint, row.method, row.subject, row.tenant]
        table.append([str(number), (row.decision, "green" if row.decision == "allow" else "red"),
                      *(safe_text("" if c is None else c) for c in cells),
                      f"{row.latency_ms:.1f}" if row.latency_ms is not None else ""])
    emit(f"{safe_text(args.file)}: last {len(shown)} of {len(rows)} lines",
         ["line", "decision", "reason", "status", "endpoint", "method", "subject", "tenant", "ms"], table)
    summary = Counter(("invalid", "-") if isinstance(r, InvalidLine) else (r.decision, r.reason or "-")
                      for _, r in rows)
    emit("decisions", ["decision", "reason", "count"],
         [[decision, safe_text(reason), str(count)] for (decision, reason), count in sorted(summary.items())])
    invalid = [number for number, row in rows if isinstance(row, InvalidLine)]
    if invalid:
        print(f"labkit audit: {safe_text(args.file)}:{invalid[0]}: {len(invalid)} line(s) are not audit events",
              file=sys.stderr)
        return 1
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.config, as_json=args.json)


def _lab(args: argparse.Namespace) -> int:
    from .lab.runner import Lab
    from .lab.workspace import DEFAULT_WORKSPACE, WorkspaceError, reset_lesson
    from .servers import StopSignals

    try:
        if args.reset:
            for lesson in args.reset:
                restored, backup = reset_lesson(args.lessons or DEFAULT_WORKSPACE, lesson)
                print(f"lesson {restored.name}: restored as shipped"
                      + (f"; your version is kept as {backup.name}" if backup else " (it was unchanged)"))
            return 0
        notebooks = _lessons_dir(args.lessons)
    except WorkspaceError as exc:
        print(f"labkit lab: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"labkit lab: lessons folder: {exc.strerror or exc}", file=sys.stderr)
        return 1
    with StopSignals() as stops, Lab(args.config) as lab, _admin_secret_kept(lab):
        env = {**os.environ, "LAB_PROVIDER_URL": lab.provider_url, "LAB_AGENT_URL": lab.agent_url}
        print(f"provider: {lab.provider_url}\nagent: {lab.agent_url}", flush=True)
        print(f"lessons: {notebooks}", flush=True)
        print("(these two are for your own clients: JupyterLab's terminals see them as $LAB_PROVIDER_URL and "
              "$LAB_AGENT_URL, and lesson 04's curl lines use them; each lesson's Lab() runs its own on other ports "
              "and reads their state, so its outputs do not depend on these)", flush=True)
        command = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={notebooks}", f"--port={args.port}",
                   f"--ServerApp.ip={args.ip}", "--ServerApp.port_retries=50"]
        if args.no_browser:
            command.append("--no-browser")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # containers and CI run as root
        # its own session: a Ctrl-C or a group kill reaches only us, and we stop it (no prompt, no traceback)
        process = subprocess.Popen(command, env=env, start_new_session=True)  # noqa: S603 - our own interpreter

        def watch() -> None:
            process.wait()
            stops.notify()

        def announce() -> None:
            url = _jupyter_url(process)
            if url:
                print(f"JupyterLab: {url}", flush=True)

        threading.Thread(target=watch, name="labkit-jupyter", daemon=True).start()
        threading.Thread(target=announce, name="labkit-jupyter-url", daemon=True).start()
        signum = stops.wait()
        if not signum:  # JupyterLab exited by itself
            return process.wait()
        process.terminate()  # JupyterLab stops on SIGTERM without asking
        try:
            process.wait(timeout=1.5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    _exit_now(128 + signum)


def _jupyter_url(process: subprocess.Popen[bytes], wait: float = 120.0) -> str | None:
    """The URL of the JupyterLab that ``process`` runs, with its token, read from the server's own runtime file
    (``jpserver-<pid>.json``: the port it settled on after retries); None if it exits or does not answer in time."""
    from jupyter_core.paths import jupyter_runtime_dir

    info = Path(jupyter_runtime_dir()) / f"jpserver-{process.pid}.json"
    deadline = time.monotonic() + wait
    while process.poll() is None and time.monotonic() < deadline:
        try:
            server = json.loads(info.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # not written yet, or half written
            time.sleep(0.2)
            continue
        token = server.get("token") or ""
        return f"{server['url'].rstrip('/')}/lab" + (f"?token={token}" if token else "")
    return None


def _probe(args: argparse.Namespace) -> int:
    """``labkit probe URL``: 0 when every answer is right, 1 when one is wrong, something was refused or the agent
    cannot be probed, 2 for a bad invocation."""
    import json

    import httpx

    from .probe.fetch import Fetcher
    from .probe.tokens import ClientCredentials, LabProvider, TokenFile, TokenSource
    from .probe.url import probe_url
    from .provider.admin import admin_secret_for

    if sum(bool(x) for x in (args.provider, args.client_id, args.token_file)) > 1:
        print("labkit probe: give one of --provider, --client-id/--client-secret, --token-file", file=sys.stderr)
        return 2
    if args.client_id and not args.client_secret:
        print("labkit probe: --client-id needs --client-secret (or $LABKIT_PROBE_CLIENT_SECRET)", file=sys.stderr)
        return 2
    if (args.token_url or args.issuer) and not args.client_id:
        print("labkit probe: --token-url and --issuer go with --client-id", file=sys.stderr)
        return 2
    if args.token_url and args.issuer:
        print("labkit probe: give one of --token-url, --issuer", file=sys.stderr)
        return 2
    try:
        with Fetcher(args.timeout) as fetcher:
            source: TokenSource | None = None
            if args.provider:
                source = LabProvider(args.provider, fetcher, admin_token=admin_secret_for(args.provider) or "")
            elif args.token_file:
                source = TokenFile(Path(args.token_file).read_text(encoding="utf-8"))
            elif args.client_id:
                source = ClientCredentials(args.client_id, args.client_secret, fetcher, token_url=args.token_url,
                                           issuer=args.issuer)
            report = probe_url(args.url, source, fetcher=fetcher)
    except (ValueError, OSError, UnicodeError, httpx.HTTPError) as exc:
        print(f"labkit probe: {safe_text(str(exc) or exc.__class__.__name__)}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_json(), indent=2) if args.json else report.table())
    return 0 if report.ok else 1


_COMMANDS: dict[str, Any] = {
    "lab": _lab,
    "serve": _serve,
    "cluster": _cluster,
    "classroom": _classroom,
    "demo": _demo,
    "mint": _mint,
    "audit": _audit,
    "validate-config": _validate_config,
    "explain": _explain,
    "probe": _probe,
}


if __name__ == "__main__":
    sys.exit(main())
