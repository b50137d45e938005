"""Challenge 11's wrong answers (insecure near-misses first): each refused, and the refusal says why."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.challenges import start
from labkit.lab import Lab, LabClock
from labkit.lab.incident import CLIENT, INCIDENT_LOG, TRUTH, stage

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
RIGHT: dict[str, Any] = {"client_id": CLIENT, "fingerprint": TRUTH["fingerprint"],
                         "first_seen": "2026-01-01T09:06:25Z", "endpoints": sorted(TRUTH["endpoints"])}


def revoke(lab: Lab) -> None:
    store = lab.provider.server().store
    with store.lock:
        for record in store.tokens.values():
            if record.client_id == CLIENT:
                record.revoked = True


def rotate(lab: Lab) -> None:
    client = lab.provider.server().store.clients[CLIENT]
    lab.provider.register_client(dataclasses.replace(client, client_secret=secrets.token_urlsafe(32)))


def rotate_to(secret: str | None) -> Any:
    def act(lab: Lab) -> None:
        client = lab.provider.server().store.clients[CLIENT]
        lab.provider.register_client(dataclasses.replace(client, client_secret=secret))
    return act


def delete(lab: Lab) -> None:
    del lab.provider.server().store.clients[CLIENT]


class Agreeable(str):
    """A str that compares equal to anything and unequal to nothing: an answer that claims every value at once."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = str.__hash__


# (name, changed answer fields, what the learner did in the lab, words of the refusal): insecure ones first
WRONG: list[tuple[str, dict[str, Any], tuple[Any, ...], str]] = [
    ("revoked without rotating", {}, (revoke,), "the leaked secret still gets new tokens"),
    ("rotated without revoking", {}, (rotate,), "rotating a secret does not touch tokens already issued"),
    ("nothing contained", {}, (), "not contained"),
    # a rotation to a secret the attacker can guess (or to none at all): each solved the check before
    ("rotated to a typed secret", {}, (revoke, rotate_to("report-bot-secret-2")), "random generator"),
    ("rotated to a repeated secret", {}, (revoke, rotate_to("a" * 48)), "random generator"),
    ("rotated to lesson 01's printed secret", {}, (revoke, rotate_to("s1cRt2iVl9DPm6DB7rK_l8vZW50BvT5cCoawHuPdNKk")),
     "printed in the lessons"),
    ("rotated to no secret (a public client)", {}, (revoke, rotate_to(None)), "no secret"),
    ("deleted the client", {}, (revoke, delete), "deleting the client stops the nightly service too"),
    ("the victim's token", {"fingerprint": TRUTH["victim_fingerprint"]}, (revoke, rotate), "the victim's traffic"),
    ("first refusal as first seen", {"first_seen": TRUTH["first_deny"]}, (revoke, rotate), "first refusal"),
    ("only the denied endpoints", {"endpoints": ["execute:admin_status", "tasks/pushNotificationConfig/set"]},
     (revoke, rotate), "allowed calls are what leaked"),
    # an object equal to every answer: solved the check when it compared with != and ==
    ("a client id equal to everything", {"client_id": Agreeable("?")}, (revoke, rotate), "not the client whose"),
    ("a fingerprint equal to everything", {"fingerprint": Agreeable("?")}, (revoke, rotate), "not the attacker's"),
    ("the busiest client", {"client_id": "lab-client"}, (revoke, rotate), "not the client whose credentials"),
    ("a time that is not a time", {"first_seen": "09:06"}, (revoke, rotate), "not when the attacker's token"),
]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(clock=LabClock()) as running:
        yield running


@pytest.mark.parametrize(("name", "changed", "actions", "reason"), WRONG, ids=[w[0] for w in WRONG])
def test_a_wrong_answer_is_refused_for_its_reason(name: str, changed: dict[str, Any], actions: tuple[Any, ...],
                                                  reason: str, lab: Lab, tmp_path: Path) -> None:
    stage(lab)  # report-bot registered again with the leaked secret, the attacker's tokens live
    attempt = start("11", lab, progress=tmp_path / "p.json")
    for action in actions:
        action(lab)
    result = attempt.check(**{**RIGHT, **changed})
    assert not result and reason in result.message, result.message


def test_no_answer_says_what_to_answer(lab: Lab, tmp_path: Path) -> None:
    result = start("11", lab, progress=tmp_path / "p.json").check()
    assert not result and "check(client_id=" in result.message


def test_containment_before_start_does_not_count(lab: Lab, tmp_path: Path) -> None:
    stage(lab)
    revoke(lab)
    rotate(lab)
    stage(lab)  # the attacker is back (the lesson's cell ran again): new live tokens, the leaked secret again
    assert not start("11", lab, progress=tmp_path / "p.json").check(**RIGHT)


def test_the_reference_solution_solves(lab: Lab, tmp_path: Path) -> None:
    stage(lab)
    namespace = {"lab": lab, "INCIDENT_LOG": INCIDENT_LOG, "answer": {},
                 "challenge": start("11", lab, progress=tmp_path / "p.json")}
    source = (ROOT / "notebooks" / "solutions" / "11.py").read_text()
    *body, last = source.rstrip().splitlines()
    exec(compile("\n".join(body), "11.py", "exec"), namespace)  # noqa: S102 - the lesson's own reference
    result = eval(compile(last, "11.py", "eval"), namespace)  # noqa: S307 - its last line: the check call
    assert result, result.message
