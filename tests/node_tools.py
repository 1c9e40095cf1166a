"""What the TypeScript and browser tests need from outside Python: Node.js packages and Chromium.

`make test-deps` installs both before the suite runs; these helpers do the same when a test is run on
its own (e.g. `pytest tests/test_browser_checkout.py` on a fresh machine), and fail with the command
to run when they cannot."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLIENT_DIR = ROOT / "clients" / "typescript"
BROWSER_DIR = ROOT / "tests" / "browser"
CHROMIUM = Path("/usr/bin/chromium")


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not on PATH: install Node.js 20+ with npm (Debian: apt-get install -y nodejs npm)")
    return path


def npm_ci(package_dir: Path) -> Path:
    """`npm ci` into package_dir unless node_modules already matches package-lock.json. Returns node_modules/.bin."""
    installed = package_dir / "node_modules" / ".package-lock.json"  # npm's record of what it installed
    lock = package_dir / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        done = subprocess.run([require("npm"), "ci", "--prefer-offline", "--no-audit", "--no-fund"],
                              cwd=package_dir, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.fail(f"npm ci in {package_dir.relative_to(ROOT)} failed:\n{done.stdout}\n{done.stderr}")
    return package_dir / "node_modules" / ".bin"


def chromium() -> Path:
    """Debian's Chromium, installed with apt when missing and we are root (as in CI)."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0:
        pytest.fail(f"{CHROMIUM} is missing and this is not root: run `sudo apt-get install -y chromium`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed (needed for the browser test):\n{done.stdout[-2000:]}\n"
                        f"{done.stderr[-2000:]}")
    if not CHROMIUM.exists():
        pytest.fail(f"apt-get install chromium succeeded but {CHROMIUM} is still missing")
    return CHROMIUM
