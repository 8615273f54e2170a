"""
``.ci/system-packages`` (run by ``make test``): what it does when a package is missing, run against stand-in
``dpkg-query``, ``apt-get``, ``sudo`` and ``id`` commands that record their calls and install nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "system-packages"
BASH = shutil.which("bash") or "/bin/bash"
REQUIRED, OPTIONAL = ("postgresql", "redis-server"), ("chromium",)


def fake_bin(tmp_path: Path, *, installed: set[str], root: bool, apt: bool, sudo: bool) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    calls = tmp_path / "calls"
    scripts = {
        "dpkg-query": f'for p in {" ".join(installed) or "_none_"}; do [ "$p" = "${{@: -1}}" ] && '
        'echo "install ok installed" && exit 0; done; exit 1',
        "id": f"echo {0 if root else 1000}",
        "sudo": f'[ "$1 $2" = "-n true" ] && exit {0 if sudo else 1}; shift; exec "$@"',
    }
    if apt:
        scripts["apt-get"] = f'echo "apt-get $*" >> {calls}'
    for tool in ("grep", "env"):  # the only other commands it runs; PATH holds nothing else (no real apt-get)
        (folder / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    for name, body in scripts.items():
        path = folder / name
        path.write_text(f"#!/bin/bash\n{body}\n")
        path.chmod(0o755)
    return folder


def run(tmp_path: Path, **kwargs: object) -> tuple[int, str, list[str]]:
    folder = fake_bin(tmp_path, **kwargs)  # type: ignore[arg-type]
    env = {**os.environ, "PATH": str(folder)}
    done = subprocess.run(
        [BASH, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    calls = tmp_path / "calls"
    return done.returncode, done.stderr, calls.read_text().splitlines() if calls.exists() else []


def test_nothing_missing_is_a_no_op(tmp_path):
    assert run(tmp_path, installed={*REQUIRED, *OPTIONAL}, root=False, apt=False, sudo=False) == (0, "", [])


def test_chromium_missing_is_installed_with_root(tmp_path):
    code, _, calls = run(tmp_path, installed=set(REQUIRED), root=True, apt=True, sudo=False)
    assert code == 0
    assert calls[0] == "apt-get update -qq"
    assert calls[1].startswith("apt-get install -y -qq --no-install-recommends")
    assert calls[1].endswith(" chromium")


@pytest.mark.parametrize(
    ("root", "apt", "reason"), [(False, True, "no root"), (True, False, "no apt-get here")]
)
def test_chromium_that_cannot_be_installed_is_a_warning(tmp_path, root, apt, reason):
    code, err, calls = run(tmp_path, installed=set(REQUIRED), root=root, apt=apt, sudo=False)
    assert code == 0
    assert calls == []
    assert f"chromium missing and {reason}: the browser test will be skipped" in err


def test_required_packages_that_cannot_be_installed_fail(tmp_path):
    code, err, calls = run(tmp_path, installed=set(), root=False, apt=True, sudo=False)
    assert code == 1
    assert calls == []
    assert "postgresql redis-server missing and no root" in err
    assert "chromium missing and no root" in err


def test_sudo_without_a_password_installs(tmp_path):
    code, _, calls = run(tmp_path, installed=set(OPTIONAL), root=False, apt=True, sudo=True)
    assert code == 0
    assert calls[1].endswith(" postgresql redis-server")
