"""``freeze_start_up``: a serving process stops re-walking its start-up heap, and still collects what it makes later."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ..helpers import ROOT

pytestmark = pytest.mark.integration  # a subprocess (tests/README.md)

# run in a child process: freezing the test process's heap would keep its later garbage alive
CHILD = """
import gc
from labkit.servers import freeze_start_up

start_up = [[i] for i in range(1000)]
freeze_start_up()
assert gc.get_freeze_count() >= 1000, gc.get_freeze_count()
assert sum(gc.get_count()) < 100, gc.get_count()  # nothing left in the young generations to walk
later = []
later.append(later)  # cyclic garbage made after start-up
del later
assert gc.collect() >= 1
print("ok")
"""


def test_freeze_keeps_start_up_out_of_collections_and_collects_later_garbage() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
