"""Run ``python -m pytest`` in a folder outside the repository, as a user would: clean environment, no repo paths."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

#: Variables of this test session that must not reach a user's run: our Airflow home, paths, pytest options.
_DROPPED_PREFIXES = ("AIRFLOW", "PYTEST_", "PYTHONPATH", "_AIRFLOW")
_OUTCOME = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|warnings?)\b")


def clean_env(**extra: str) -> dict[str, str]:
    """Return this process's environment without Airflow, pytest and PYTHONPATH variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_PREFIXES)}
    env.update(extra)
    return env


def run_pytest(
    folder: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pytest *args`` in ``folder`` with this interpreter (the installed package)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=folder,
        env=clean_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def outcomes(run: subprocess.CompletedProcess[str]) -> Counter[str]:
    """Count the outcomes in pytest's final summary line, e.g. ``{"passed": 2}`` (``errors`` as ``error``)."""
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    summary = lines[-1] if lines else ""
    return Counter({kind.removesuffix("s"): int(n) for n, kind in _OUTCOME.findall(summary)})
