"""Challenge 19 ("Refuse the impersonator"): wrong answers, insecure ones first, each refused with its reason."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.lab import Lab, LabClock
from labkit.lab.consent import IMPERSONATOR, install_copilot, register
from labkit.provider import TrustPolicy

from .run_reference import attempt_row, run_solution

pytestmark = pytest.mark.integration

REAL = "copilot.github.com"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(clock=LabClock()) as running:
        install_copilot(running)
        yield running


@pytest.fixture(autouse=True)
def default_policy(lab: Lab) -> Iterator[None]:
    yield
    lab.provider.configure_trust(TrustPolicy())


def policy(redirect_hosts: tuple[str, ...] = (), **reserved: tuple[str, ...]) -> Callable[[Lab], Any]:
    names = {name.replace("_", " "): hosts for name, hosts in reserved.items()}
    return lambda lab: lab.provider.configure_trust(TrustPolicy(redirect_hosts, names))


# (row, act, what the refusal must say): insecure answers first
WRONG: list[tuple[str, Callable[[Lab], Any], str]] = [
    ("nothing configured", lambda lab: None, "is the default"),
    ("only the real host allowed, no name reserved", policy((REAL,)), "the lesson's impersonator"),
    ("the name reserved for loopback, where the phisher listens", policy((REAL,), GitHub_Copilot=(REAL, "127.0.0.1")),
     "127.0.0.1 is anybody's"),
    ("the name reserved for loopback only", policy(GitHub_Copilot=("127.0.0.1",)), "the lesson's impersonator"),
    ("another name reserved", policy((REAL,), GitHub_Desktop=(REAL,)), "look-alike name"),
    ("the name refused to everyone, the real app too", policy((REAL,), GitHub_Copilot=()),
     "GitHub Copilot from its own host was refused"),
    ("the name reserved, its host not allowed to register", policy(GitHub_Copilot=(REAL,)),
     "GitHub Copilot from its own host was refused"),
    ("the parent domain instead of the host", policy(("github.com",), GitHub_Copilot=("github.com",)),
     "GitHub Copilot from its own host was refused"),
    ("an ordinary local app refused too", policy((REAL,), GitHub_Copilot=(REAL,), Acme_Notes=()),
     "Acme Notes, a local app was refused"),
]


@pytest.mark.parametrize(("act", "reason"), [row[1:] for row in WRONG], ids=[row[0] for row in WRONG])
def test_wrong_answer_is_refused_with_its_reason(lab: Lab, tmp_path: Path, act: Callable[[Lab], Any],
                                                 reason: str) -> None:
    result = attempt_row("19", lab, tmp_path / "p.json", act)
    assert not result.solved and reason in result.message, result


@pytest.mark.parametrize("hosts", [("*.github.com",), ("https://copilot.github.com",), ("copilot.github.com/",)])
def test_a_pattern_or_url_instead_of_a_host_is_refused_when_written(hosts: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="exact lowercase host"):
        TrustPolicy(redirect_hosts=hosts)


def test_the_check_cleans_up_after_its_probes(lab: Lab, tmp_path: Path) -> None:
    before = set(lab.provider.server().store.clients)
    for _ in range(3):
        attempt_row("19", lab, tmp_path / "p.json", policy((REAL,), GitHub_Copilot=(REAL,)))
    assert set(lab.provider.server().store.clients) == before  # its registrations never use up the quota


def test_the_impersonator_registers_by_default_and_not_under_the_reference(lab: Lab, tmp_path: Path) -> None:
    assert register(lab, IMPERSONATOR).client_id
    assert run_solution("19", lab, tmp_path / "p.json").solved
    refused = register(lab, IMPERSONATOR)
    assert refused.client_id is None and refused.error == "invalid_client_metadata"
