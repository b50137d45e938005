"""Challenge 09 ("Your own hook, your own secret"): wrong answers, insecure ones first, each refused with its
reason."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from labkit.lab import Lab, LabClock
from sample_agent import default_config_path

from .run_reference import attempt_row, lesson_config, run_solution

# Lab.reload after push deliveries leaves one client socket to the GC (reported: not this lesson's code); the
# warning lands in whichever row runs when it is collected
pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")]

HOOK = "challenge"


CLOCK = LabClock()


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(clock=CLOCK) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_receiver(lab: Lab) -> Iterator[None]:
    """Each row starts from the lesson's agent, a hook with no notification token announced, one second later than
    the row before (the receiver dates what it receives by the lab clock; the check counts what came since start)."""
    lab.webhooks.tokens.pop(HOOK, None)
    CLOCK.advance(1)
    yield
    deadline = time.monotonic() + 5  # this row's deliveries end before the next row starts
    while not all(d.finished for d in lab.agent.push.deliveries) and time.monotonic() < deadline:
        time.sleep(0.05)
    if lab.config.push.allowed_hosts != [urlsplit(lab.webhooks.url(HOOK)).netloc] \
            or lab.config.push.allow_private_networks:
        lab.reload(default_config_path())


def subscribe(scopes: tuple[str, ...] = ("api:read", "push:write"), *, announce: str | None = "fresh",
              sent: str | None = None, url: Callable[[Lab], str] = lambda lab: lab.webhooks.url(HOOK),
              change: Callable[[dict[str, Any]], None] | None = None) -> Callable[[Lab], Any]:
    """message/send with a push configuration; ``announce``: the receiver's notification token ("fresh": a new
    secret), ``sent``: the one the agent is given (default: the announced one)."""
    def act(lab: Lab) -> None:
        if change is not None:
            lab.reload(lesson_config(change))
        secret = secrets.token_urlsafe(24) if announce == "fresh" else announce
        if secret is not None:
            lab.webhooks.expect_token(HOOK, secret)
        config = {"url": url(lab), "token": sent or secret or "unannounced-but-long-enough"}
        params = {"message": {"role": "user", "messageId": str(uuid.uuid4()),
                              "parts": [{"kind": "text", "text": "hi"}]},
                  "configuration": {"pushNotificationConfig": config}}
        lab.call("message/send", params, token=lab.token(list(scopes)))
    return act


def provider_on_the_allow_list(lab_url: list[str]) -> Callable[[dict[str, Any]], None]:
    def change(config: dict[str, Any]) -> None:
        config["push"]["allowed_hosts"].append(lab_url[0])
    return change


def forged(lab: Lab) -> None:
    """A notification the learner signs with the agent's key and posts directly; the agent never sent it."""
    secret = secrets.token_urlsafe(24)
    lab.webhooks.expect_token(HOOK, secret)
    subscribe(url=lambda lab: lab.webhooks.url("elsewhere"))(lab)  # a subscription, but not of this hook
    lab.webhooks.deliver(HOOK, lab.agent.signer.sign(lab.webhooks.url(HOOK), "task-1", 60),
                         notification_token=lab.webhooks.tokens[HOOK])


def ssrf(lab: Lab) -> None:
    provider = urlsplit(lab.provider_url).netloc
    subscribe(change=provider_on_the_allow_list([provider]), url=lambda lab: f"{lab.provider_url}/admin/clients")(lab)
    subscribe()(lab)


def private_networks(config: dict[str, Any]) -> None:
    config["push"]["allow_private_networks"] = True


# (row, act, what the refusal must say): insecure answers first
WRONG: list[tuple[str, Callable[[Lab], Any], str]] = [
    ("the agent made to POST to the provider (SSRF)", ssrf, "SSRF"),
    ("private networks allowed for webhooks", subscribe(change=private_networks), "SSRF"),
    ("no notification token checked by the receiver", subscribe(announce=None), "does not check a notification"),
    ("the lesson's notification token", subscribe(announce="my-notification-token"), "printed in the lesson"),
    ("a short notification token", subscribe(announce="abc"), "shorter than"),
    # long but typed, not generated: each solved the check when it counted characters only
    ("a long, repeated notification token", subscribe(announce="x" * 32), "random generator"),
    ("a keyboard walk", subscribe(announce="qwertyuiopasdfghjklzxcvbnm"), "random generator"),
    ("a random secret printed in lesson 01", subscribe(announce="s1cRt2iVl9DPm6DB7rK_l8vZW50BvT5cCoawHuPdNKk"),
     "printed in the lessons"),
    ("hex digits in order", subscribe(announce="0123456789abcdef" * 2), "random generator"),
    ("a notification the learner forged with the agent's key", forged, "never delivered"),
    ("admin to subscribe", subscribe(("admin",)), "least privilege"),
    ("api:write to subscribe", subscribe(("api:write", "push:write")), "least privilege"),
    ("the agent given the wrong notification token", subscribe(sent="x" * 32), "verified no notification"),
    ("another hook", subscribe(url=lambda lab: lab.webhooks.url("elsewhere")), "verified no notification"),
]


@pytest.mark.parametrize(("act", "reason"), [row[1:] for row in WRONG], ids=[row[0] for row in WRONG])
def test_wrong_answer_is_refused_with_its_reason(lab: Lab, tmp_path: Path, act: Callable[[Lab], Any],
                                                 reason: str) -> None:
    result = attempt_row("09", lab, tmp_path / "p.json", act)
    assert not result.solved and reason in result.message, result


def test_reference_solves(lab: Lab, tmp_path: Path) -> None:
    assert run_solution("09", lab, tmp_path / "p.json").solved
