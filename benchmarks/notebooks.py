"""Wall time of the lessons under nbval (the same run `uv run pytest` does for notebooks/).

Run: uv run python benchmarks/notebooks.py    (budget: about 90 s here; printed, never asserted)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "notebooks", "-p", "no:cacheprovider"], cwd=ROOT,
                            capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-500:]
    print(f"nbval over {len(list((ROOT / 'notebooks').glob('*.ipynb')))} notebooks: {elapsed:.1f} s ({summary})")


if __name__ == "__main__":
    main()
