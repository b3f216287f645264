"""Two servers sharing one database (and Redis), as two hosts behind a load balancer."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import redis
import requests
from joserfc.jwk import KeySet

from idp.keys.jose import verify_signature
from tests.e2e.conftest import live_database_url
from tests.fakes import FakeGoogle
from tests.live import LiveServer

pytestmark = pytest.mark.e2e

REDIS_URL = "redis://127.0.0.1:6379/14"
SHARED = {
    "IDP_JWKS_MAX_AGE": "1",
    "IDP_KEYS_REFRESH_INTERVAL": "1",
    "IDP_RATE_LIMITS": "true",
    "IDP_RATE_LIMIT_SIGN_IN": "3/minute",
    "IDP_REDIS_URL": REDIS_URL,
}


@pytest.fixture(scope="module")
def hosts(
    migrated_database: str, tmp_path_factory: pytest.TempPathFactory, live_google: FakeGoogle
) -> Iterator[tuple[LiveServer, LiveServer]]:
    redis.Redis.from_url(REDIS_URL).flushdb()
    first_instance = tmp_path_factory.mktemp("host-a")
    database = live_database_url(migrated_database, first_instance)
    env = {
        **SHARED,
        "IDP_GOOGLE_CLIENT_ID": live_google.client_id,
        "IDP_GOOGLE_CLIENT_SECRET": live_google.client_secret,
        "IDP_GOOGLE_ISSUER": live_google.issuer,
    }
    # Production's worker class on the hosts: sync (gunicorn.conf.py).
    first = LiveServer(database_url=database, instance=first_instance, env=env, worker_class="sync")
    second = LiveServer(
        database_url=database,
        instance=tmp_path_factory.mktemp("host-b"),
        env=env,
        worker_class="sync",
    )
    with first, second:
        yield first, second


def _sign_in(server: LiveServer) -> str:
    browser = requests.Session()
    browser.headers["Origin"] = server.url
    started = browser.post(f"{server.url}/api/auth/sign-in/social", json={"provider": "google"})
    assert started.status_code == 200, started.text
    back = browser.get(started.json()["url"], allow_redirects=False).headers["Location"]
    assert browser.get(back, allow_redirects=False).status_code == 302
    return f"better-auth.session_token={browser.cookies['better-auth.session_token']}"


def _session(server: LiveServer, cookie: str) -> object:
    return requests.get(
        f"{server.url}/api/auth/get-session", headers={"Cookie": cookie}, timeout=10
    ).json()


def _kid(server: LiveServer, cookie: str) -> str:
    token = requests.get(
        f"{server.url}/api/auth/token", headers={"Cookie": cookie}, timeout=10
    ).json()["token"]
    keys = KeySet.import_key_set(
        requests.get(f"{server.url}/.well-known/jwks.json", timeout=10).json()
    )
    return str(verify_signature(token, keys)[0]["kid"])


def test_a_session_made_on_one_host_works_and_dies_on_the_other(
    hosts: tuple[LiveServer, LiveServer],
) -> None:
    first, second = hosts
    cookie = _sign_in(first)
    assert _session(second, cookie) is not None
    revoked = requests.post(
        f"{second.url}/api/auth/revoke-sessions",
        json={},
        headers={"Cookie": cookie, "Origin": second.url},
        timeout=10,
    )
    assert revoked.json() == {"status": True}
    assert _session(first, cookie) is None


def test_a_rotation_on_one_host_reaches_the_other_within_the_refresh_interval(
    hosts: tuple[LiveServer, LiveServer],
) -> None:
    first, second = hosts
    cookie = _sign_in(first)
    _kid(second, cookie)  # keys exist
    time.sleep(2.5)  # the next key has been published for JWKS max-age + refresh interval
    rotated = first.flask("keys", "rotate", "--json")
    assert rotated.returncode == 0, rotated.stderr + rotated.stdout
    new = json.loads(rotated.stdout)["active"]
    deadline = time.monotonic() + 5
    while _kid(second, cookie) != new:
        assert time.monotonic() < deadline, "the second host still signs with the old key"
        time.sleep(0.2)


def test_rate_limits_are_shared_between_hosts_through_redis(
    hosts: tuple[LiveServer, LiveServer],
) -> None:
    redis.Redis.from_url(REDIS_URL).flushdb()
    first, second = hosts
    statuses = []
    for server in (first, second, first, second):
        answer = requests.post(
            f"{server.url}/api/auth/sign-in/social",
            json={"provider": "google"},
            headers={"Origin": server.url},
            timeout=10,
        )
        statuses.append(answer.status_code)
    assert statuses == [200, 200, 200, 429]
