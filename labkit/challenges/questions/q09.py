"""Lesson 09's question: which webhook URLs the agent accepts in a push configuration (SSRF defences)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["QUESTIONS", "URLS", "webhook_urls"]

URLS = (  # (item, URL; "{receiver}" is the lab's webhook receiver)
    ("the lab's receiver", "{receiver}/hooks/predict"),
    ("the cloud metadata address", "http://169.254.169.254/latest/meta-data"),
    ("a private address", "http://10.0.0.8/hook"),
    ("loopback, another port", "http://127.0.0.1:1/hook"),
    ("the receiver with credentials in the URL", "http://user:pass@{host}/hooks/predict"),
)


def webhook_urls(lab: Lab | None) -> dict[str, str]:
    """"accepted" or "refused" for each URL, as ``tasks/pushNotificationConfig/set`` answers on a fresh task."""
    if lab is None:
        raise ValueError("this question runs against the lab: predict('09', 'webhook_urls', lab)")
    token = lab.token(["api:read", "push:write"])
    message = {"role": "user", "messageId": str(uuid.uuid4()), "parts": [{"kind": "text", "text": "hi"}]}
    task = lab.call("message/send", {"message": message}, token=token).body["result"]["id"]
    receiver = lab.webhooks.url("predict").removesuffix("/hooks/predict")
    answers = {}
    for item, url in URLS:
        config = {"url": url.format(receiver=receiver, host=receiver.removeprefix("http://"))}
        answer = lab.call("tasks/pushNotificationConfig/set", {"taskId": task, "pushNotificationConfig": config},
                          token=token)
        answers[item] = "refused" if "error" in (answer.body or {}) else "accepted"
    return answers


QUESTIONS = (
    Question(
        "webhook_urls",
        "a client registers a webhook with `tasks/pushNotificationConfig/set`. The agent's `push.allowed_hosts` "
        "holds the lab's receiver (`127.0.0.1:PORT`) and `allow_loopback` is on. Which URLs does it accept?",
        tuple(item for item, _ in URLS),
        ("accepted", "refused"),
        webhook_urls,
    ),
)
