"""The ``labkit`` command line: validate-config now; lab, serve, demo, mint and audit as they land."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .config import load_config
from .errors import ConfigError

__all__ = ["main"]

_PENDING = {
    "lab": "start the provider and the agent, then JupyterLab on notebooks/",
    "serve": "run the provider and the agent in the foreground",
    "demo": "headless tour: probe every endpoint and print the decision matrix",
    "mint": "print one access token from the lab provider",
    "audit": "tabulate a JSONL audit log",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit", description="oauth2-lab: an OAuth2 security lab for AI agents")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = sub.add_parser("validate-config", help="check an agentup.yml security configuration")
    check.add_argument("file", help="path to agentup.yml (a .env beside it is loaded)")
    for name, text in _PENDING.items():
        pending = sub.add_parser(name, help=f"{text} (not available yet)")
        pending.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
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
    if args.command == "validate-config":
        return _validate_config(args.file)
    print(f"labkit {args.command}: not available yet in this version of the lab", file=sys.stderr)
    return 2


def _validate_config(path: str) -> int:
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        print(f"{path}: invalid", file=sys.stderr)
        for where, message in exc.errors:
            print(f"  {where or '<root>'}: {message}", file=sys.stderr)
        return 1
    oauth2 = cfg.oauth2
    print(f"{path}: valid")
    print(f"  strategy: {oauth2.validation_strategy}")
    if oauth2.validation_strategy != "introspection":
        print(f"  algorithms: {', '.join(oauth2.algorithms)}")
    if oauth2.validation_strategy != "jwt":
        print(f"  introspection: {oauth2.dialect}")
    print(f"  scopes in hierarchy: {len(oauth2.hierarchy.scopes())}; plugins: {len(cfg.plugins)}; "
          f"middleware: {len(cfg.middleware)}; tenants: {len(cfg.tenants)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
