"""Lesson 17's fixtures, imported by the modules that use them: one ``Lab(proxy=True)`` per module, and the proxy
and its upstream put back as shipped (passthrough on, no audience check) after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labkit.lab import Lab

__all__ = ["lab", "shipped"]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(proxy=True) as running:
        yield running


@pytest.fixture
def shipped(lab: Lab) -> Iterator[None]:
    """The proxy and its upstream as shipped, restored after each test."""
    assert lab.downstream is not None and lab.proxy is not None
    rule = lab.downstream.rule
    yield
    lab.proxy.configure(passthrough=True)
    lab.downstream.reload(rule, check_audience=False)
