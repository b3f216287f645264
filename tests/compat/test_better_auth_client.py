"""The real Better Auth client (npm ``better-auth``, pinned in package.json) against our server.

``better_auth_client.mjs`` signs in through the fake Google provider with ``createAuthClient`` and
then drives the session and account endpoints as an app would; see its header for the steps.
``make test`` installs the client with ``npm ci`` into ``tests/compat/node_modules``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fakes import FakeGoogle
from tests.live import LiveServer

COMPAT_DIR = Path(__file__).resolve().parent
SCRIPT = COMPAT_DIR / "better_auth_client.mjs"
NODE_MODULES = COMPAT_DIR / "node_modules"
NODE = shutil.which("node")
TIMEOUT = 60

# `make test` installs Node packages before the suite runs, so a missing one is a failure here,
# never a skip: a compatibility suite that silently does not run proves nothing.
pytestmark = pytest.mark.compat


def _report(run: subprocess.CompletedProcess[str], server: LiveServer) -> str:
    return (
        f"node exited with {run.returncode}\n"
        f"--- stdout ---\n{run.stdout}\n"
        f"--- stderr ---\n{run.stderr}\n"
        f"--- server log ---\n{server.log()}"
    )


def test_better_auth_client_journey(live_server: LiveServer, live_google: FakeGoogle) -> None:
    if NODE is None:
        pytest.fail("node is not on PATH (the Better Auth client runs under Node 20)")
    if not NODE_MODULES.is_dir():
        pytest.fail(f"{NODE_MODULES} is missing: run `make install` (npm ci in tests/compat)")
    assert live_google.user.email is not None
    env = {
        **os.environ,
        "IDP_URL": live_server.url,
        "EXPECTED_EMAIL": live_google.user.email,
        "NO_COLOR": "1",
    }
    try:
        run = subprocess.run(
            [NODE, str(SCRIPT)],
            cwd=COMPAT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"node did not finish within {TIMEOUT} s\n"
            f"--- stdout ---\n{exc.stdout!r}\n--- stderr ---\n{exc.stderr!r}\n"
            f"--- server log ---\n{live_server.log()}"
        )
    print(run.stdout)  # the steps, for `pytest -rP`
    assert run.returncode == 0, _report(run, live_server)
    assert "all steps passed" in run.stdout, _report(run, live_server)
