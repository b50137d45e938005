"""Lesson 20's question: what a reused refresh token does to its family (RFC 9700 §4.14.2), and what it cannot."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from ...flows.client import ClientError, McpClient
from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["ITEMS", "QUESTIONS", "reuse_outcome"]

ITEMS = ("the thief's refresh (the old token)", "the client's next refresh (its new token)",
         "the client's access token at /mcp (a JWT)")


def reuse_outcome(lab: Lab | None) -> dict[str, str]:
    """Run the scenario for real with a fresh client: authorize, refresh once, the thief presents the old refresh
    token, then the client refreshes and calls ``tools/list``. Raises ``ValueError`` without a lab."""
    if lab is None:
        raise ValueError("this question runs against the lab: predict('20', 'reuse', lab)")
    client = McpClient(lab, client_name="predict: reuse")
    client.authorize("api:read")
    stolen = client.refresh_token
    client.refresh()
    thief = httpx.post(lab.provider_url + "/token", timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": stolen, "client_id": client.client_id})
    try:
        client.refresh()
        refreshed = "accepted"
    except ClientError:
        refreshed = "refused"
    called = client.list_tools().status
    return dict(zip(ITEMS, ("accepted" if thief.status_code == 200 else "refused", refreshed,
                            "accepted" if called == 200 else "refused"), strict=True))


QUESTIONS = (
    Question(
        "reuse",
        "a client refreshed once (its refresh token rotated); a thief then presents the **old** refresh token to "
        "`/token`. What happens to each of these, afterwards?",
        ITEMS,
        ("accepted", "refused"),
        lambda lab: reuse_outcome(lab),
    ),
)
