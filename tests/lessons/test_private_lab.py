"""Each learner's lab is private: learner B, holding only A's ports (and B's own private lab of the same make), cannot
mint, read or change anything in learner A's private lab, in one process or in two; A's own lesson still works.

Every route of every server (``Lab.servers()``; routes read from the apps, so a new route or server is covered) is
tried without a prefix, under B's own secret and a guess, and path-inserted after ``/.well-known/<name>``: each
answer is the one generic 404, no handler of A's lab is called (a counter between each gate and its app), and A's
tokens, clients, audit logs, deliveries and weaknesses are unchanged. The same probe against an open lab reaches the
handlers (so the probe can tell)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import httpx
import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from labkit.lab import Lab
from sample_agent import default_config_path

from ..helpers import ROOT, examples
from .isolation import (
    LAB_OPTIONS,
    Counting,
    instrument,
    lab_routes,
    ports,
    probe,
    secret_of,
    solve_lesson_00,
    state,
    zero,
)

pytestmark = pytest.mark.integration
NOT_FOUND = (404, "Not Found")


def refused_everywhere(answers: list[list[object]]) -> None:
    """Every answer is the gate's 404, with its one body."""
    odd = [a for a in answers if (a[3], a[4]) != NOT_FOUND]
    assert not odd, f"{len(odd)} answers other than the generic 404, e.g. {odd[:5]}"


def test_learner_b_cannot_use_learner_a_lab_in_one_process(tmp_path: Path) -> None:
    victim = Lab(private=True, **LAB_OPTIONS)
    counters = instrument(victim)
    with victim as a, Lab(private=True, **LAB_OPTIONS) as b:
        assert a.private and b.private and secret_of(a) != secret_of(b)
        routes = lab_routes(b)
        assert {"provider", "webhooks", "agent", "vulnerable-agent", "attacker", "downstream", "proxy"} <= set(routes)
        assert sum(map(len, routes.values())) > 50  # the route tables were read, not a handful of guesses
        before = state(a)
        zero(counters)  # A's lab made calls of itself while starting
        answers = probe(ports(a), routes, [secret_of(b), "x"])
        refused_everywhere(answers)
        assert {name: c.calls for name, c in counters.items()} == dict.fromkeys(counters, 0)
        assert state(a) == before
        # B's own lab answers B; A's lab still answers A, and A's lesson works through it
        assert httpx.get(f"{b.provider_url}/.well-known/openid-configuration").json()["issuer"] == b.provider_url
        solved, message = solve_lesson_00(a, tmp_path / "progress.json")
        assert solved, message
        assert sum(c.calls for c in counters.values()) > 0


def test_the_probe_reaches_the_handlers_of_an_open_lab() -> None:
    # the control: the same probe, at a lab that is not private, runs handlers and changes its state
    open_lab = Lab(private=False, **LAB_OPTIONS)
    counters = instrument(open_lab)
    with open_lab as a:
        before = state(a)
        answers = probe(ports(a), lab_routes(a), ["x"])
        reached = {name for name, c in counters.items() if c.calls}
        assert reached == set(counters), f"servers the probe did not reach: {set(counters) - reached}"
        statuses = Counter(status for _, _, _, status, _ in answers)
        assert sum(n for status, n in statuses.items() if status != 404) > 50, statuses
        assert state(a) != before  # e.g. the headless code flow issued alice's code, the audit logs grew


def _next_json(stream: TextIO) -> dict[str, Any]:
    """The next JSON line a learner's process prints (the lesson's own prints are skipped)."""
    for line in stream:
        if line.startswith("{"):
            return dict(json.loads(line))
    raise AssertionError("the learner's process ended without its report")


def test_learner_b_cannot_use_learner_a_lab_from_another_process(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("LABKIT_PRIVATE", None)
    with subprocess.Popen([sys.executable, "-m", "tests.lessons.isolation", "a", str(tmp_path / "a.json")], cwd=ROOT,
                          env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as learner_a:
        try:
            assert learner_a.stdout is not None and learner_a.stdin is not None
            victim_ports = _next_json(learner_a.stdout)["ports"]
            learner_b = subprocess.run([sys.executable, "-m", "tests.lessons.isolation", "b", json.dumps(victim_ports)],
                                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
            assert learner_b.returncode == 0, learner_b.stderr[-3000:]
            seen_by_b = json.loads(learner_b.stdout.splitlines()[-1])
            assert seen_by_b["routes"] > 50
            refused_everywhere(seen_by_b["answers"])
            learner_a.stdin.write("go\n")
            learner_a.stdin.flush()
            report = _next_json(learner_a.stdout)
            assert report["private"] and report["after"] == report["before"]
            assert report["calls"] == dict.fromkeys(report["calls"], 0)
            assert report["solved"], report["message"]
            assert learner_a.wait(60) == 0
        finally:
            if learner_a.poll() is None:
                learner_a.kill()


def test_a_lab_is_private_under_jupyterhub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABKIT_PRIVATE", raising=False)
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    with Lab(capture_logs=False) as lab:
        secret = secret_of(lab)
        assert lab.private and len(secret) >= 43
        assert all(server.url.endswith("/" + secret) for server in lab.servers())
        origin = lab.provider_url.removesuffix("/" + secret)
        assert (httpx.get(f"{origin}/.well-known/openid-configuration").status_code,
                httpx.get(f"{lab.provider_url}/.well-known/openid-configuration").status_code) == (404, 200)
        token = lab.token(["api:write"])
        assert lab.execute("write_operation", token=token).status == 200
        # the secret is in the learner's own URLs only, never in the audit log: not even where a refusal quotes a
        # token's issuer (the configured issuer set wrong, as a learner may)
        raw = yaml.safe_load(default_config_path().read_text(encoding="utf-8"))
        raw["security"]["oauth2"]["jwt_issuer"] = "${LAB_PROVIDER_URL}/elsewhere"
        lab.reload(raw)
        refused = lab.execute("write_operation", token=token)
        assert refused.status == 401 and refused.event is not None and "<secret>" in refused.event.detail
        assert secret not in repr(lab.audit.events())


@pytest.fixture(scope="module")
def watched() -> Iterator[tuple[Lab, dict[str, Counting]]]:
    lab = Lab(private=True, **LAB_OPTIONS)
    counters = instrument(lab)
    with lab:
        yield lab, zero(counters)


_BYTE = st.sampled_from([*"abcXYZ019-_.~%/", "%2F", "%2e", "..", "//", "/.well-known/", "oauth-protected-resource"])


@settings(max_examples=examples(150), deadline=None)
@given(head=st.lists(_BYTE, max_size=6).map("".join), tail=st.lists(_BYTE, max_size=8).map("".join),
       near=st.sampled_from(["", "cut", "extend", "swapcase", "other"]))
def test_no_handler_of_a_private_lab_runs_for_any_other_prefix(watched: tuple[Lab, dict[str, Counting]], head: str,
                                                                tail: str, near: str) -> None:
    # the property, over real sockets and every server: a path whose capability segment is not the secret (bytes
    # sent as written, no client normalising them) is refused and reaches no handler
    from labkit.vulnerable import raw_get

    lab, counters = watched
    secret = secret_of(lab)
    segment = {"": head, "cut": secret[:-1], "extend": secret + head, "swapcase": secret.swapcase(),
               "other": head + secret}[near]
    for path in (f"/{segment}/{tail}", f"/.well-known/oauth-protected-resource/{segment}/{tail}"):
        assume(not path.startswith(f"/{secret}/") and f"/{secret}/" not in path.replace("//", "/"))
        for server in lab.servers():
            assert raw_get(f"http://127.0.0.1:{server.port}", path) == NOT_FOUND
    assert sum(c.calls for c in counters.values()) == 0


@pytest.mark.parametrize("lesson", ["00", "12"])
def test_a_lesson_runs_all_in_a_private_lab(lesson: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the learner's own kernel under JupyterHub: every cell runs through the private lab, each check cell shows
    # what it shows in an open one (lesson 12: the SDK's flows, discovery path-inserted, the recorder's paths)
    import nbformat

    from labkit.lab.notebooks import CHECK, NOTEBOOKS_DIR, run_all, tags

    from .test_run_all import _shown

    monkeypatch.setenv("LABKIT_PRIVATE", "1")
    path = next(NOTEBOOKS_DIR.glob(f"{lesson}_*.ipynb"))
    executed = run_all(path, tmp_path / "progress.json")  # raises CellExecutionError on a failing cell
    committed = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    for index, cell in enumerate(committed.cells):
        if CHECK in tags(cell):
            assert _shown(executed.cells[index].outputs) == _shown(cell.outputs), f"{path.name}: check cell {index}"
