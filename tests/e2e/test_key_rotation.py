"""Rotations on a running multi-worker server, with verifiers running in other processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import live_database_url
from tests.fakes import FakeGoogle
from tests.live import PROJECT_ROOT, LiveServer

pytestmark = pytest.mark.e2e

VERIFIERS = 3
# A next key may sign after jwks_max_age + refresh_interval = 3 s.
FAST_KEYS = {"IDP_JWKS_MAX_AGE": "2", "IDP_KEYS_REFRESH_INTERVAL": "1"}


@pytest.fixture(scope="module")
def fast_rotating_server(
    migrated_database: str, tmp_path_factory: pytest.TempPathFactory, live_google: FakeGoogle
) -> Iterator[LiveServer]:
    instance = tmp_path_factory.mktemp("rotation")
    env = {
        **FAST_KEYS,
        "IDP_GOOGLE_CLIENT_ID": live_google.client_id,
        "IDP_GOOGLE_CLIENT_SECRET": live_google.client_secret,
        "IDP_GOOGLE_ISSUER": live_google.issuer,
    }
    with LiveServer(
        database_url=live_database_url(migrated_database, instance),
        instance=instance,
        env=env,
        workers=2,
    ) as server:
        yield server


def _signed_in_cookie(server: LiveServer) -> str:
    browser = requests.Session()
    browser.headers["Origin"] = server.url
    started = browser.post(f"{server.url}/api/auth/sign-in/social", json={"provider": "google"})
    back = browser.get(started.json()["url"], allow_redirects=False).headers["Location"]
    assert browser.get(back, allow_redirects=False).status_code == 302
    return "; ".join(f"{k}={v}" for k, v in browser.cookies.items())


def test_two_rotations_under_load_fail_no_verification(
    fast_rotating_server: LiveServer, tmp_path: Path
) -> None:
    server = fast_rotating_server
    cookie = _signed_in_cookie(server)
    requests.get(f"{server.url}/.well-known/jwks.json", timeout=10)  # the first keys
    stop = tmp_path / "stop"
    verifiers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.e2e.rotation_client",
                server.url,
                cookie,
                str(stop),
            ],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(VERIFIERS)
    ]
    for verifier in verifiers:
        assert verifier.stdout is not None
        assert verifier.stdout.readline().strip() == "ready"
    rotations = []
    for _ in range(2):
        time.sleep(5)
        rotated = server.flask("keys", "rotate", "--json")
        assert rotated.returncode == 0, rotated.stderr + rotated.stdout
        rotations.append(json.loads(rotated.stdout))
    time.sleep(3)  # every worker reloads within 1 s; let the verifiers see the last key
    stop.touch()
    results = []
    for verifier in verifiers:
        out, err = verifier.communicate(timeout=60)
        assert verifier.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))

    assert all(r["failed"] == 0 for r in results), results
    assert sum(r["ok"] for r in results) > 100
    seen = set().union(*(r["kids"] for r in results))
    # Tokens came from the first key and, after both rotations, from the last one; the middle
    # key signed for a few seconds only, which a loaded machine may not sample.
    assert {rotations[0]["retired"], rotations[1]["active"]} <= seen
