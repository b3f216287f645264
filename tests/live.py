"""A real server for journeys: ``flask db upgrade`` then gunicorn, on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import requests

from tests.helpers import KEY_ENCRYPTION_KEY, SECRET_KEY, TRUSTED_ORIGIN

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """gunicorn serving ``wsgi:app`` with the given ``IDP_*`` settings.

    ``database_url`` is shared with the in-process tests on PostgreSQL; on SQLite each server
    gets its own file, migrated from empty as a fresh install would be.
    """

    def __init__(
        self,
        *,
        database_url: str,
        instance: Path,
        env: dict[str, str] | None = None,
        workers: int = 2,
        port: int | None = None,
        worker_class: str = "gthread",
        optimize: bool = True,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.instance = instance
        self.log_path = instance / "gunicorn.log"
        self.workers = workers
        # -OO, as production runs it (gunicorn.conf.py); False starts it as plain `gunicorn` does.
        self.python_flags = ["-OO"] if optimize else []
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("IDP_")},
            "IDP_ENV": "development",
            "IDP_BASE_URL": self.url,
            "IDP_DATABASE_URL": database_url,
            "IDP_SECRET_KEY": SECRET_KEY,
            "IDP_KEY_ENCRYPTION_KEY": KEY_ENCRYPTION_KEY,
            "IDP_TRUSTED_ORIGINS": TRUSTED_ORIGIN,
            "IDP_INSTANCE_PATH": str(instance),
            "IDP_UPSTREAM_TIMEOUT": "5",
            "IDP_RATE_LIMITS": "false",
            "FLASK_APP": "wsgi",
            "GUNICORN_ACCESS_LOG": "0",
            # Browsers and test clients talk to it directly, as to `make run`: gthread unless a
            # test asks for production's sync workers (which belong behind a proxy).
            "GUNICORN_WORKER_CLASS": worker_class,
            **(env or {}),
        }
        self._process: subprocess.Popen[bytes] | None = None

    def flask(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A ``flask`` command against this server's database and settings, as an operator on
        its host would run it."""
        return subprocess.run(
            [sys.executable, "-m", "flask", *args],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def migrate(self) -> None:
        migrated = self.flask("db", "upgrade")
        if migrated.returncode != 0:
            raise RuntimeError(f"flask db upgrade:\n{migrated.stdout}{migrated.stderr}")

    def start(self) -> LiveServer:
        self.migrate()
        log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            [
                str(BIN / "python"),
                *self.python_flags,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "wsgi:app",
            ],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        try:
            self._wait_until_ready(deadline=time.monotonic() + 60)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self, *, deadline: float) -> None:
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/api/auth/ok", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer within 60 s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5)
        self._process = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
