"""The processes around the browser: the Next.js example, the embed's static origin, the service.

Each is started by a fixture in ``conftest.py`` and stopped at the end of the package. Logs go to
files, attached to failures by the report hook.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self, TypeVar

import pytest
import requests

from tests.live import PROJECT_ROOT

NEXTJS_DIR = PROJECT_ROOT / "examples" / "nextjs"
EMBED_DIR = PROJECT_ROOT / "examples" / "embed"
NEXT_CLI = NEXTJS_DIR / "node_modules" / "next" / "dist" / "bin" / "next"
BUILD_TIMEOUT = 900  # seconds: `next build` on a busy two-core machine
START_TIMEOUT = 90


class SetupError(RuntimeError):
    """Something the browser tests need is missing; the message says how to get it."""


def node() -> str:
    found = shutil.which("node")
    if found is None:
        raise SetupError("node is not on PATH: the Next.js example needs Node 20")
    return found


def tail(path: Path, limit: int = 6000) -> str:
    text = path.read_text(errors="replace") if path.exists() else "(no log)"
    return text[-limit:]


def _next_env(idp_url: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "NEXT_"))},
        "IDP_URL": idp_url,
        "NEXT_TELEMETRY_DISABLED": "1",
        "NODE_ENV": "production",
    }


def build_nextjs(idp_url: str, log_path: Path) -> float:
    """``next build`` of the example, proxying to ``idp_url``; returns the seconds it took.

    The rewrites of ``next.config.mjs`` are fixed at build time (``next start`` serves them from
    ``.next/routes-manifest.json``), so the build must know where idp listens.
    """
    if not (NEXTJS_DIR / "node_modules").is_dir() or not NEXT_CLI.is_file():
        raise SetupError(
            f"{NEXTJS_DIR / 'node_modules'} is missing or incomplete: "
            f"run `npm ci` in {NEXTJS_DIR} (the Makefile's install does)"
        )
    started = time.monotonic()
    with log_path.open("wb") as log:
        try:
            run = subprocess.run(
                [node(), str(NEXT_CLI), "build"],
                cwd=NEXTJS_DIR,
                env=_next_env(idp_url),
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=BUILD_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise SetupError(
                f"next build did not finish within {BUILD_TIMEOUT} s:\n{tail(log_path)}"
            ) from None
    if run.returncode != 0:
        raise SetupError(f"next build exited with {run.returncode}:\n{tail(log_path)}")
    return time.monotonic() - started


class Process:
    """A server process in its own process group, stopped with the whole group."""

    def start(self) -> Self:
        raise NotImplementedError

    def __init__(self, name: str, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def _spawn(self, command: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_for(self, url: str, *, status: int = 200) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SetupError(f"{self.name} exited:\n{self.log()}")
            try:
                if requests.get(url, timeout=10).status_code == status:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise SetupError(
            f"{self.name} did not answer {url} within {START_TIMEOUT} s:\n{self.log()}"
        )

    def log(self) -> str:
        return tail(self.log_path)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


ProcessT = TypeVar("ProcessT", bound=Process)


def start_or_fail(server: ProcessT) -> ProcessT:
    """Start ``server`` for a fixture; a missing piece fails the tests with its message alone."""
    try:
        return server.start()
    except SetupError as error:
        problem = str(error)
    pytest.fail(problem, pytrace=False)


class NextSite(Process):
    """``next start`` of the built example on 127.0.0.1:``port``."""

    def __init__(self, *, port: int, idp_url: str, log_path: Path) -> None:
        super().__init__("next start", log_path)
        self.port = port
        self.idp_url = idp_url
        self.local_url = f"http://127.0.0.1:{port}"

    def start(self) -> NextSite:
        self._spawn(
            [node(), str(NEXT_CLI), "start", "-H", "127.0.0.1", "-p", str(self.port)],
            cwd=NEXTJS_DIR,
            env=_next_env(self.idp_url),
        )
        try:
            self._wait_for(f"{self.local_url}/")
            self._wait_for(f"{self.local_url}/api/auth/ok")  # the proxy reaches idp
        except BaseException:
            self.stop()
            raise
        return self


class WhoamiService(Process):
    """``examples/embed/service.py`` on a free port (it prints its address first)."""

    def __init__(self, *, issuer: str, jwks_url: str, allow_origin: str, log_path: Path) -> None:
        super().__init__("service.py", log_path)
        self.args = [
            "--issuer",
            issuer,
            "--jwks-url",
            jwks_url,
            "--allow-origin",
            allow_origin,
            "--port",
            "0",
        ]
        self.url = ""

    def start(self) -> WhoamiService:
        self._spawn(
            [sys.executable, "-u", str(EMBED_DIR / "service.py"), *self.args],
            cwd=PROJECT_ROOT,
            env=dict(os.environ),
        )
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while not self.url:
                first = self.log_path.read_text().partition("\n")
                if first[1] and first[0].startswith("listening on "):
                    self.url = first[0].removeprefix("listening on ")
                elif time.monotonic() > deadline or (
                    self._process is not None and self._process.poll() is not None
                ):
                    raise SetupError(f"service.py did not start:\n{self.log()}")
                else:
                    time.sleep(0.1)
            self._wait_for(f"{self.url}/whoami", status=401)
        except BaseException:
            self.stop()
            raise
        return self


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class StaticSite:
    """The embed's folder on its own origin: http.server in a thread."""

    def __init__(self, directory: Path) -> None:
        handler = partial(_QuietFiles, directory=str(directory))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    def start(self) -> StaticSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
