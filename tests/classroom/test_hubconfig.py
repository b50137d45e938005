"""The hub's settings for a class: the board's scopes in the hub's roles, the learner's server token limited to
reporting, groups that follow the password, lessons copied on first start and kept after."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from traitlets.config import Config

from labkit.classroom import READ_SCOPE, REPORT_SCOPE
from labkit.classroom.hubconfig import INSTRUCTORS, configure, prepare_workspace

ENV = {"LABKIT_CLASSROOM_PORT": "8000", "LABKIT_CLASSROOM_HUB_PORT": "8081", "LABKIT_CLASSROOM_PROXY": "/bin/chp",
       "LABKIT_CLASSROOM_PROXY_API_PORT": "8001", "LABKIT_CLASSROOM_BOARD_PORT": "10101",
       "LABKIT_CLASSROOM_PASSWORD": "learners-pw", "LABKIT_CLASSROOM_INSTRUCTOR_PASSWORD": "instructors-password"}


def test_the_hub_grants_the_board_scopes_by_role(tmp_path: Path) -> None:
    c = Config()
    configure(c, ENV, python="/venv/bin/python", root=tmp_path)
    roles = {role["name"]: role for role in c.JupyterHub.load_roles}
    assert REPORT_SCOPE in roles["user"]["scopes"] and READ_SCOPE not in roles["user"]["scopes"]
    assert roles["instructor"]["groups"] == [INSTRUCTORS] and READ_SCOPE in roles["instructor"]["scopes"]
    assert set(c.JupyterHub.custom_scopes) == {READ_SCOPE, REPORT_SCOPE}
    # the learner's JUPYTERHUB_API_TOKEN: its server's usual scopes and reporting, never reading the board
    assert c.Spawner.server_token_scopes == ["access:servers!server", "users:activity!user", REPORT_SCOPE]
    assert c.SharedPasswordAuthenticator.manage_groups is True
    assert c.SharedPasswordAuthenticator.password_groups == {"instructors-password": [INSTRUCTORS]}
    (board,) = c.JupyterHub.services
    assert board["oauth_client_allowed_scopes"] == [READ_SCOPE] and board["url"] == "http://127.0.0.1:10101"
    assert c.Spawner.environment == {"LABKIT_BOARD_URL": "http://127.0.0.1:10101/services/board/"}
    with pytest.raises(KeyError):
        configure(Config(), {k: v for k, v in ENV.items() if k != "LABKIT_CLASSROOM_PASSWORD"}, python="p",
                  root=tmp_path)


def test_an_admin_service_only_with_its_token(tmp_path: Path) -> None:
    c = Config()
    configure(c, {**ENV, "LABKIT_CLASSROOM_ADMIN_TOKEN": "a" * 48}, python="p", root=tmp_path)
    assert [s["name"] for s in c.JupyterHub.services] == ["board", "classroom-admin"]


def test_lessons_are_copied_once_and_kept(tmp_path: Path) -> None:
    spawner = SimpleNamespace(home_dir=str(tmp_path / "homes" / "ada"))
    prepare_workspace(spawner)
    lesson = tmp_path / "homes" / "ada" / "labkit-lessons" / "00_quickstart.ipynb"
    assert lesson.is_file()
    lesson.write_text("{}")  # the learner's edit
    prepare_workspace(spawner)
    assert lesson.read_text() == "{}"
