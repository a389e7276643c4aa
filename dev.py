#!/usr/bin/env python3
"""The project's two commands, needing only Python 3.11+:

    python3 dev.py run     set up .venv if needed, then run the bot (python -m bot)
    python3 dev.py test    set up .venv with the test tools if needed, then run every test

Extra arguments go to the bot or to pytest. `python3 dev.py setup` only prepares .venv.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".dev-stamp"


def ensure_environment(*, dev: bool) -> None:
    """Create .venv and install the project when pyproject.toml changed since the last time."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs before anything is installed
        sys.exit("Python 3.11 or newer is needed, not {}.{}.".format(*sys.version_info[:2]))
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest() + (
        "+dev" if dev else ""
    )
    have = STAMP.read_text() if STAMP.exists() else ""
    if not PYTHON.exists():
        print("creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if have == wanted or (not dev and have.startswith(wanted)):
        return
    target = ".[dev]" if dev else "."
    print(f"installing {target} into .venv …", flush=True)
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True, cwd=ROOT)
    subprocess.run([*pip, "install", "-e", target], check=True, cwd=ROOT)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command == "run":
        ensure_environment(dev=False)
        return subprocess.call([str(PYTHON), "-m", "bot", *rest], cwd=os.getcwd())
    if command == "test":
        ensure_environment(dev=True)
        return subprocess.call([str(PYTHON), "-m", "pytest", *rest], cwd=ROOT)
    if command == "setup":
        ensure_environment(dev=True)
        return 0
    print(__doc__)
    return 0 if command in {"help", "-h", "--help"} else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
