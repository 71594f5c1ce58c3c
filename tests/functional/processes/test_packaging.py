"""What a plain ``pip install`` of the project gives: the wheel, in a clean virtualenv, no extras.

The project's own virtualenv has the test and lint extras, which hid a runtime import of a
test-only package once (``requests``): only a clean install shows what a user gets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import typer

from overcast.cli import app
from overcast.testing.ports import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]


def command_paths() -> list[list[str]]:
    """Every subcommand of ``overcast``, as argument lists (groups and leaves)."""
    paths: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        paths.append(path)
        # typer vendors its own click: a group is whatever has subcommands.
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def run(argv: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def clean_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this tree, installed alone in a fresh virtualenv; its bin/."""
    work = tmp_path_factory.mktemp("packaging")
    built = run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work), str(ROOT)],
        {**os.environ},
        600,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = work.glob("overcast-*.whl")
    venv = work / "venv"
    # The base interpreter, not this virtualenv's: nothing of the test environment leaks in.
    base = getattr(sys, "_base_executable", sys.executable)
    made = run([base, "-m", "venv", str(venv)], {**os.environ})
    assert made.returncode == 0, made.stderr
    installed = run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], {**os.environ}, 900)
    assert installed.returncode == 0, installed.stderr
    return venv / "bin"


def clean_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OVERCAST_", "PYTHON", "VIRTUAL_ENV"))}
    env["HOME"] = str(tmp)  # no ~/.config/overcast/cli.toml of the machine's
    return env


def test_the_wheel_has_no_test_only_imports(clean_install: Path) -> None:
    listed = run([str(clean_install / "pip"), "list", "--format", "json"], {**os.environ}).stdout
    installed = {p["name"].lower() for p in json.loads(listed)}
    assert "overcast" in installed
    assert not installed & {"vspk", "pytest", "hypothesis", "requests", "bambou"}


def test_every_subcommand_answers_help_and_version(clean_install: Path, tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    overcast = str(clean_install / "overcast")
    version = run([overcast, "--version"], env)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == run([overcast, "version"], env).stdout.strip() != ""
    paths = command_paths()
    assert ["directory"] in paths and ["agent", "cleanup"] in paths  # the walk sees the tree
    failures = {}
    for path in paths:
        answer = run([overcast, *path, "--help"], env)
        if answer.returncode != 0 or "Usage" not in answer.stdout:
            failures[" ".join(path)] = answer.stderr[-500:]
    assert not failures
    cni = run([str(clean_install / "overcast-cni")], {**env, "CNI_COMMAND": "VERSION"})
    assert cni.returncode == 0 and "supportedVersions" in json.loads(cni.stdout)


def test_a_directory_and_the_cli_against_it(clean_install: Path, tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "directory.log").open("wb")
    server = subprocess.Popen(
        [
            str(clean_install / "overcast"),
            "directory",
            "--listen",
            f"127.0.0.1:{port}",
            "--state-dir",
            str(tmp_path / "state"),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            listing = run(
                [str(clean_install / "overcast"), "list", "enterprises", "--url", url, "--json"], env
            )
            if listing.returncode == 0:
                break
            assert server.poll() is None, (tmp_path / "directory.log").read_text()
            assert time.monotonic() < deadline, listing.stderr
            time.sleep(0.3)
        names = [e["name"] for e in json.loads(listing.stdout)]
        assert [n.lower() for n in names] == ["csp"]  # csproot sees the operator's enterprise
        created = run(
            [str(clean_install / "overcast"), "create", "enterprise", "name=acme", "--url", url], env
        )
        assert created.returncode == 0, created.stderr
        listing = run([str(clean_install / "overcast"), "list", "enterprises", "--url", url, "--json"], env)
        assert "acme" in [e["name"] for e in json.loads(listing.stdout)]
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()
