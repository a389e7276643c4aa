#!/usr/bin/env python3
"""The project's two commands, needing only Python 3.11+:

    python3 dev.py run     set up .venv if needed, then run the bot (python -m bot)
    python3 dev.py test    set up .venv with the test tools if needed, then run every test

Extra arguments go to the bot or to pytest. `python3 dev.py setup` only prepares .venv, and
`python3 dev.py uv …` runs the pinned uv (e.g. `python3 dev.py uv lock --check`).

.venv holds exactly the versions locked in uv.lock, installed by uv (the same `uv sync --locked`
the Dockerfile runs). uv itself comes from PyPI into .tools/uv, a venv of its own, so that
`uv sync` (which removes whatever the lock does not list) never removes the uv it runs from.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN_DIR = "Scripts" if os.name == "nt" else "bin"
EXE = ".exe" if os.name == "nt" else ""
PYTHON = VENV / BIN_DIR / f"python{EXE}"
STAMP = VENV / ".dev-stamp"
# The uv release that wrote uv.lock; the Dockerfile copies the same one. Bump both together.
UV_VERSION = "0.13.9"
TOOLS = ROOT / ".tools" / "uv"
UV = TOOLS / BIN_DIR / f"uv{EXE}"
UV_STAMP = TOOLS / ".uv-version"


def sync_command(*, dev: bool) -> list[str]:
    """The uv arguments that install uv.lock into .venv (the Dockerfile's, plus the dev extra)."""
    return ["sync", "--locked", *(["--extra", "dev"] if dev else ["--no-dev"])]


def uv_environment() -> dict[str, str]:
    """Use the Python running this file for .venv, never one uv would download."""
    return {
        **os.environ,
        "UV_PYTHON": sys.executable,
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_PROJECT_ENVIRONMENT": str(VENV),
        "VIRTUAL_ENV": "",
    }


def ensure_uv() -> Path:
    """Install the pinned uv from PyPI into .tools/uv, once."""
    if UV.exists() and UV_STAMP.exists() and UV_STAMP.read_text() == UV_VERSION:
        return UV
    print(f"installing uv {UV_VERSION} into {TOOLS.relative_to(ROOT)} …", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(TOOLS)
    pip = [str(TOOLS / BIN_DIR / f"python{EXE}"), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "-q", f"uv=={UV_VERSION}"], check=True, cwd=ROOT)
    UV_STAMP.write_text(UV_VERSION)
    return UV


def uv(*args: str) -> int:
    """Run the pinned uv in the project."""
    return subprocess.call([str(ensure_uv()), *args], cwd=ROOT, env=uv_environment())


def ensure_environment(*, dev: bool) -> None:
    """Install uv.lock into .venv when pyproject.toml or uv.lock changed since the last time."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs before anything is installed
        sys.exit("Python 3.11 or newer is needed, not {}.{}.".format(*sys.version_info[:2]))
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "uv.lock"):
        digest.update((ROOT / name).read_bytes())
    wanted = f"{digest.hexdigest()}+uv{UV_VERSION}" + ("+dev" if dev else "")
    have = STAMP.read_text() if STAMP.exists() else ""
    if PYTHON.exists() and (have == wanted or (not dev and have.startswith(wanted))):
        return
    if have and "+uv" not in have:
        # Made by pip (before uv.lock was used): start afresh, so uv's cache gets every wheel.
        print("replacing the .venv pip made …", flush=True)
        shutil.rmtree(VENV)
    print(f"installing uv.lock{' with the dev extra' if dev else ''} into .venv …", flush=True)
    STAMP.unlink(missing_ok=True)
    command = [str(ensure_uv()), *sync_command(dev=dev)]
    if subprocess.call(command, cwd=ROOT, env=uv_environment()) != 0:
        sys.exit(
            "uv could not install uv.lock into .venv. If it says the lockfile needs to be "
            "updated, pyproject.toml changed without a re-lock: run `python3 dev.py uv lock`."
        )
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command == "run":
        ensure_environment(dev=False)
        arguments = [str(PYTHON), "-m", "bot", *rest]
        if os.name == "posix":
            # Become the bot: SIGTERM and SIGINT sent to this pid reach it, nothing is left over.
            sys.stdout.flush()
            sys.stderr.flush()
            os.execv(PYTHON, arguments)  # noqa: S606 - the venv's interpreter, no shell
        return subprocess.call(arguments, cwd=os.getcwd())
    if command == "test":
        ensure_environment(dev=True)
        return subprocess.call([str(PYTHON), "-m", "pytest", *rest], cwd=ROOT)
    if command == "setup":
        ensure_environment(dev=True)
        return 0
    if command == "uv":
        return uv(*rest)
    print(__doc__)
    return 0 if command in {"help", "-h", "--help"} else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
