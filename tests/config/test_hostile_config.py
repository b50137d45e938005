"""Files from anywhere are hostile until read: size, alias expansion, nesting and long lists are bounded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit._yaml import MAX_BYTES, MAX_DEPTH, MAX_NODES, check_shape, parse_yaml
from labkit.cli import main
from labkit.config import load_config, validate_security_config
from labkit.errors import ConfigError
from labkit.widgets.config_builder import ConfigBuilderState

from ..helpers import examples

FAST = settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def alias_bomb(levels: int, width: int) -> str:
    lines = ["l0: &l0 [" + ", ".join(['"lol"'] * width) + "]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def nested(depth: int, flow: str) -> str:
    opening, closing = ("[", "]") if flow == "[" else ("{a: ", "}")
    return "security: " + opening * depth + "1" + closing * depth + "\n"


@FAST
@given(levels=st.integers(2, 12), width=st.integers(2, 12))
def test_alias_expansion_is_bounded(levels: int, width: int) -> None:
    text = alias_bomb(levels, width)
    document, errors = parse_yaml(text, "f.yml")
    expanded = sum(width ** i for i in range(1, levels + 1)) + levels + 1
    if expanded > MAX_NODES:
        assert document is None and "alias" in errors[0][1]
    else:
        assert errors == [] and isinstance(document, dict)


@FAST
@given(depth=st.integers(MAX_DEPTH + 1, 6000), flow=st.sampled_from(["[", "{"]))
def test_deep_nesting_is_a_clear_error(depth: int, flow: str) -> None:
    document, errors = parse_yaml(nested(depth, flow), "f.yml")
    assert document is None and errors and errors[0][0].startswith("f.yml")
    assert "nest" in errors[0][1]


@FAST
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_any_text_parses_or_fails_clearly(text: Any) -> None:
    _, errors = parse_yaml(text, "f.yml")
    assert all(isinstance(p, str) and isinstance(m, str) for p, m in errors)


@FAST
@given(depth=st.integers(MAX_DEPTH + 1, 5000))
def test_deep_mappings_from_python_are_refused(depth: int) -> None:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    with pytest.raises(ConfigError, match="nested deeper"):
        validate_security_config({"security": value})


def test_shared_objects_count_each_time_they_appear() -> None:
    value: Any = ["x"] * 10
    for _ in range(8):
        value = [value] * 10  # 10**9 values once expanded, a few hundred objects in memory
    assert check_shape(value) and "values" in check_shape(value)[0][1]


@pytest.mark.parametrize("name", ["bomb", "deep", "deep-flow", "big"])
def test_every_entry_point_refuses_hostile_files(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = {
        "bomb": alias_bomb(9, 9),
        "deep": nested(5000, "["),
        "deep-flow": "[" * 5000 + "]" * 5000,
        "big": "security:\n  oauth2:\n    required_scopes: [" + ", ".join(f"s{i}" for i in range(400_000)) + "]\n",
    }[name]
    path = tmp_path / "agentup.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert len(info.value.errors) == 1
    assert main(["validate-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(path) in err
    assert main(["explain", str(path)]) == 1


def test_size_cap_is_read_unread(tmp_path: Path) -> None:
    path = tmp_path / "agentup.yml"
    path.write_bytes(b"#" * (MAX_BYTES + 1))
    with pytest.raises(ConfigError, match="larger than"):
        load_config(path, env={})


def test_config_builder_refuses_a_bomb_in_the_hierarchy() -> None:
    state = ConfigBuilderState(hierarchy=alias_bomb(9, 9))
    assert state.validate({"LAB_PROVIDER_URL": "http://127.0.0.1:8100"}) is False
    assert "alias" in state.errors[0][1]


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_config_that_is_not_a_regular_file_never_blocks(tmp_path: Path, kind: str) -> None:
    import os
    import threading

    path = tmp_path / "agentup.yml"
    os.mkfifo(path) if kind == "fifo" else path.mkdir()
    caught: list[BaseException] = []
    reader = threading.Thread(target=lambda: caught.extend(_raised(lambda: load_config(path, env={}))), daemon=True)
    reader.start()
    reader.join(30)
    if reader.is_alive():  # the old loader blocks on the FIFO's open: release it, then fail
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(30)
        pytest.fail("loading a FIFO configuration blocked")
    assert len(caught) == 1 and isinstance(caught[0], ConfigError), caught
    assert str(path) in str(caught[0])


def _raised(action: Any) -> list[BaseException]:
    try:
        action()
    except BaseException as exc:
        return [exc]
    return []
