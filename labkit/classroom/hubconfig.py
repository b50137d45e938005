"""The settings ``jupyterhub_config.py`` gives the hub (one function, so that they are typed and tested)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .board import READ_SCOPE, REPORT_SCOPE

__all__ = ["BOARD", "INSTRUCTORS", "configure", "prepare_workspace"]

BOARD = "board"  # the service's name: /services/board/
INSTRUCTORS = "instructors"  # the JupyterHub group whose members read the board


def prepare_workspace(spawner: Any) -> None:
    """``pre_spawn_hook``: the learner's home and a copy of the lessons in it (kept, edits and all, when there)."""
    from ..lab.workspace import open_workspace

    home = Path(spawner.home_dir)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    open_workspace(home / "labkit-lessons")


def configure(c: Any, env: Mapping[str, str], *, python: str, root: Path) -> None:
    """Fill JupyterHub's config object ``c`` from ``env`` (see ``jupyterhub_config.py``); raises ``KeyError``
    naming a missing ``LABKIT_CLASSROOM_*``."""
    ip = env.get("LABKIT_CLASSROOM_IP", "127.0.0.1")
    root.mkdir(parents=True, exist_ok=True)
    c.JupyterHub.bind_url = f"http://{ip}:{env['LABKIT_CLASSROOM_PORT']}"
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{env['LABKIT_CLASSROOM_HUB_PORT']}"
    c.JupyterHub.db_url = f"sqlite:///{root / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(root / "jupyterhub_cookie_secret")
    c.JupyterHub.cleanup_servers = True
    c.ConfigurableHTTPProxy.command = [env["LABKIT_CLASSROOM_PROXY"]]
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env['LABKIT_CLASSROOM_PROXY_API_PORT']}"
    c.ConfigurableHTTPProxy.pid_file = str(root / "proxy.pid")

    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = env["LABKIT_CLASSROOM_PASSWORD"]
    c.SharedPasswordAuthenticator.manage_groups = True  # a group follows the password used, never the name
    c.SharedPasswordAuthenticator.password_groups = {env["LABKIT_CLASSROOM_INSTRUCTOR_PASSWORD"]: [INSTRUCTORS]}
    c.Authenticator.allow_all = True

    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = str(root / "homes" / "{username}")
    c.Spawner.notebook_dir = str(root / "homes" / "{username}" / "labkit-lessons")
    c.Spawner.cmd = [python, "-m", "jupyterhub.singleuser"]
    c.Spawner.default_url = "/lab"
    c.Spawner.pre_spawn_hook = prepare_workspace
    c.Spawner.start_timeout = 120
    c.Spawner.http_timeout = 120
    if os.geteuid() == 0:  # a classroom run as root (a container): Jupyter refuses root without this
        c.Spawner.args = ["--allow-root"]
    board_port = env["LABKIT_CLASSROOM_BOARD_PORT"]
    c.Spawner.environment = {"LABKIT_BOARD_URL": f"http://127.0.0.1:{board_port}/services/{BOARD}/"}
    # the learner's JUPYTERHUB_API_TOKEN: the server's usual scopes and reporting to the board, nothing more
    c.Spawner.server_token_scopes = ["access:servers!server", "users:activity!user", REPORT_SCOPE]

    c.JupyterHub.custom_scopes = {
        REPORT_SCOPE: {"description": "report one's own lesson progress to the instructor's board"},
        READ_SCOPE: {"description": "read every learner's progress on the instructor's board"},
    }
    c.JupyterHub.load_roles = [
        {"name": "user", "scopes": ["self", REPORT_SCOPE]},
        {"name": "instructor", "groups": [INSTRUCTORS], "scopes": [READ_SCOPE, f"access:services!service={BOARD}"]},
    ]
    services: list[dict[str, Any]] = [{
        "name": BOARD, "url": f"http://127.0.0.1:{board_port}", "cwd": str(root),
        "command": [python, "-m", "labkit.classroom.service"],
        "environment": {"LABKIT_BOARD_DATABASE": env.get("LABKIT_BOARD_DATABASE", ""),
                        "LABKIT_AUDIT_LOG": str(root / "board-audit.jsonl")},
        "oauth_no_confirm": True, "oauth_client_allowed_scopes": [READ_SCOPE],
    }]
    admin_token = env.get("LABKIT_CLASSROOM_ADMIN_TOKEN")
    if admin_token:
        services.append({"name": "classroom-admin", "api_token": admin_token})
        c.JupyterHub.load_roles.append({"name": "classroom-admin", "services": ["classroom-admin"], "scopes": [
            "admin:users", "admin:servers", "access:servers", "tokens", "read:users", "read:groups"]})
    c.JupyterHub.services = services
