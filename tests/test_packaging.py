"""What CI tests is what ships: dev.py and the Dockerfile both install exactly uv.lock.

These run uv offline (UV_OFFLINE=1, pip without an index) from the cache that
`python3 dev.py setup` filled: no test reaches the internet.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import dev

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
PROJECT = "kibana-llm-connector-bot"


@dataclass
class Stage:
    """One FROM … stage of the Dockerfile, as the instructions this test replays."""

    image: str
    env: dict[str, str] = field(default_factory=dict)
    steps: list[tuple[str, str]] = field(default_factory=list)  # (instruction, arguments)


def _dockerfile_stages() -> list[Stage]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            stages.append(Stage(image=arguments.split()[0]))
        elif instruction == "ENV":
            stages[-1].env.update(part.split("=", 1) for part in shlex.split(arguments))  # type: ignore[misc]  # pairs
        else:
            stages[-1].steps.append((instruction, arguments))
    return stages


def _builder() -> Stage:
    [builder] = [stage for stage in _dockerfile_stages() if any("uv" in a for _, a in stage.steps)]
    return builder


def _uv_runs(stage: Stage) -> list[list[str]]:
    """The RUN lines that call uv, without their --mount options."""
    runs = []
    for instruction, arguments in stage.steps:
        words = shlex.split(arguments)
        if instruction == "RUN" and "uv" in words:
            runs.append([word for word in words if not word.startswith("--mount=")])
    return runs


def _locked_versions(lock: Path) -> dict[str, str]:
    data = tomllib.loads(lock.read_text())
    return {package["name"]: package["version"] for package in data["package"]}


def _installed_versions(python: Path) -> dict[str, str]:
    script = (
        "import importlib.metadata as m, json, re; "
        "print(json.dumps({re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(): d.version "
        "for d in m.distributions()}))"
    )
    output = subprocess.run(  # noqa: S603 - a venv's interpreter
        [str(python), "-c", script], capture_output=True, text=True, check=True
    ).stdout
    found: dict[str, str] = json.loads(output)
    return found


def _offline_environment() -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("UV_", "PIP_", "VIRTUAL_ENV"))
    }
    env.update(UV_OFFLINE="1", PIP_NO_INDEX="1", PIP_FIND_LINKS="")
    return env


@pytest.fixture
def uv_binary() -> Path:
    assert dev.UV.exists(), f"{dev.UV} is missing: run `python3 dev.py setup` first"
    return dev.UV


def _scratch_project(destination: Path) -> Path:
    """A copy of what dev.py needs, sharing this checkout's bootstrapped uv."""
    destination.mkdir()
    for name in ("dev.py", "pyproject.toml", "uv.lock", "README.md"):
        shutil.copy2(ROOT / name, destination / name)
    ignore = shutil.ignore_patterns("__pycache__")
    for name in ("bot", "migrations"):
        shutil.copytree(ROOT / name, destination / name, ignore=ignore)
    (destination / ".tools").symlink_to(ROOT / ".tools")
    return destination


def _run_dev(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our interpreter and the copied dev.py
        [sys.executable, str(project / "dev.py"), *args],
        cwd=project,
        env=_offline_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_dev_setup_installs_exactly_the_locked_versions(uv_binary: Path, tmp_path: Path) -> None:
    project = _scratch_project(tmp_path / "project")
    result = _run_dev(project, "setup")
    assert result.returncode == 0, result.stdout + result.stderr
    locked = _locked_versions(project / "uv.lock")
    installed = _installed_versions(project / ".venv" / "bin" / "python")
    assert "pytest" in installed  # the dev extra
    assert installed[PROJECT] == locked[PROJECT]
    wrong = {
        name: (version, locked.get(name))
        for name, version in installed.items()
        if name not in {"pip", "setuptools"} and locked.get(name) != version
    }
    assert wrong == {}, "installed versions that are not the locked ones"
    assert (project / ".venv" / ".dev-stamp").exists()


def test_dev_setup_refuses_a_stale_lock(uv_binary: Path, tmp_path: Path) -> None:
    project = _scratch_project(tmp_path / "project")
    pyproject = project / "pyproject.toml"
    waitress = '    "waitress>=3.0,<4",\n'
    pyproject.write_text(pyproject.read_text().replace(waitress, waitress + '    "six",\n'))
    result = _run_dev(project, "setup")
    assert result.returncode != 0, result.stdout + result.stderr
    assert "python3 dev.py uv lock" in result.stderr
    assert not (project / ".venv" / ".dev-stamp").exists()
    check = _run_dev(project, "uv", "lock", "--check")
    assert check.returncode != 0  # what .ci/run runs first


def test_the_lock_is_fresh(uv_binary: Path) -> None:
    result = subprocess.run(  # noqa: S603 - the pinned uv
        [str(uv_binary), "lock", "--check"],
        cwd=ROOT,
        env=_offline_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_dockerfile_uses_the_uv_and_the_sync_that_dev_py_uses() -> None:
    builder = _builder()
    copies = [arguments for instruction, arguments in builder.steps if instruction == "COPY"]
    assert f"--from=ghcr.io/astral-sh/uv:{dev.UV_VERSION} /uv /uvx /bin/" in copies
    runs = _uv_runs(builder)
    assert [run[run.index("uv") + 1 :] for run in runs] == [
        ["sync", "--locked", "--no-install-project", "--no-dev"],
        dev.sync_command(dev=False),
    ]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "dev.py uv lock --check" in ci
    assert "dev.py setup" in ci


def test_dockerfile_builder_commands_succeed_in_a_scratch_directory(
    uv_binary: Path, tmp_path: Path
) -> None:
    """Replay the builder stage (ENV, WORKDIR, bind mounts, COPY, RUN uv …) without Docker."""
    builder = _builder()
    app = tmp_path / "app"
    env = {**_offline_environment(), **builder.env}
    env["UV_COMPILE_BYTECODE"] = "0"  # the image compiles at build time; not needed here
    env["UV_PYTHON"] = sys.executable  # the image's only Python is its own
    ran = 0
    for instruction, arguments in builder.steps:
        words = shlex.split(arguments)
        if instruction == "WORKDIR":
            app.mkdir(parents=True, exist_ok=True)
        elif instruction == "COPY" and not words[0].startswith("--from="):
            *sources, target = words
            for source in sources:
                destination = app / target / source if target.endswith("/") else app / target
                if (ROOT / source).is_dir():
                    shutil.copytree(ROOT / source, destination)
                else:
                    shutil.copy2(ROOT / source, destination)
        elif instruction == "RUN" and "uv" in words:
            binds = [
                dict(part.split("=", 1) for part in word.removeprefix("--mount=").split(","))
                for word in words
                if word.startswith("--mount=type=bind")
            ]
            for bind in binds:
                shutil.copy2(ROOT / bind["source"], app / bind["target"])
            command = [word for word in words if not word.startswith("--mount=")]
            command[command.index("uv")] = str(uv_binary)
            result = subprocess.run(  # noqa: S603 - the pinned uv, the Dockerfile's arguments
                command, cwd=app, env=env, capture_output=True, text=True, check=False
            )
            assert result.returncode == 0, f"{arguments}\n{result.stderr}"
            for bind in binds:
                (app / bind["target"]).unlink()
            ran += 1
    assert ran == 2
    installed = _installed_versions(app / ".venv" / "bin" / "python")
    locked = _locked_versions(ROOT / "uv.lock")
    assert "pytest" not in installed  # --no-dev
    assert {name: locked.get(name) for name in installed} == installed
    # What the runtime stage's CMD runs, from that venv.
    result = subprocess.run(  # noqa: S603 - the scratch venv's interpreter
        [str(app / ".venv" / "bin" / "python"), "-c", "import bot.__main__, bot.db.migrate"],
        cwd=app,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_comments_say_what_the_files_do() -> None:
    manifest = (ROOT / "manifest.yml").read_text()
    urls = [line for line in manifest.splitlines() if "bot.example.com" in line.split("#", 1)[0]]
    # The slash command, interactivity and the Events API (App Home) each name the URL.
    assert len(urls) == 3
    assert "the three URLs below" in manifest
    dockerfile = DOCKERFILE.read_text()
    assert "Socket Mode serves no HTTP" not in dockerfile
    assert "--no-healthcheck" not in dockerfile
    assert "in Socket Mode the bot serves only /healthz and /metrics" in dockerfile
