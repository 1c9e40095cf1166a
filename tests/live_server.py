"""The real server as a user runs it: `orderdesk db upgrade`, `seed-demo`, `token create`, `serve`, in
processes of their own, on a fresh SQLite file and a free loopback port. For the tests that need a
served process rather than the in-process app (a browser, schemathesis)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

# Settings a developer's shell may carry that would change what these tests see.
_SCRUB = ("DATABASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "API_COMPAT", "CORS_ALLOWED_ORIGINS",
          "ORDERDESK_ENV", "ADMIN_PHONES", "PUBLIC_BASE_URL", "SECRET_KEY", "ACCESS_TOKEN_LIFETIME",
          "REFRESH_TOKEN_LIFETIME")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """`with LiveServer(tmp_path, CORS_ALLOWED_ORIGINS=...) as server:` -> server.url, server.admin_token."""

    def __init__(self, workdir: Path, **env: str) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
        # The working directory is workdir, so a developer's .env in the checkout is not read either.
        self.env.update(DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'orderdesk.db'}", PUBLIC_BASE_URL=self.url,
                        **env)
        self.log_path = workdir / "server.log"
        self.process: subprocess.Popen | None = None
        self.admin_token = ""

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run([sys.executable, "-m", "orderdesk", *args], cwd=self.workdir, env=self.env,
                              input=stdin, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"orderdesk {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def __enter__(self) -> LiveServer:
        self.cli("db", "upgrade")
        self.cli("seed-demo")
        self.admin_token = self.cli("token", "create", "--role", "admin", "--name", "live-admin").strip().splitlines()[-1]
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orderdesk", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"orderdesk serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                if self.get("/health")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.__exit__()
        raise AssertionError(f"orderdesk serve did not answer /health within 30 s:\n{self.log()}")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def get(self, path: str, *, admin: bool = False, headers: dict | None = None) -> tuple[int, dict, object]:
        """GET path -> (status, headers, decoded JSON body or text)."""
        return self.request("GET", path, admin=admin, headers=headers)

    def request(self, method: str, path: str, body: object = None, *, admin: bool = False,
                headers: dict | None = None) -> tuple[int, dict, object]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=dict(headers or {}))
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if admin:
            request.add_header("Authorization", f"Bearer {self.admin_token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, head, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            status, head, raw = err.code, dict(err.headers), err.read()
        try:
            return status, head, json.loads(raw)
        except ValueError:
            return status, head, raw.decode(errors="replace")
