"""Races through a real multi-worker server: a callback's state is consumed exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.live import LiveServer

pytestmark = pytest.mark.e2e

RACERS = 8


def test_one_callback_url_replayed_concurrently_signs_in_exactly_once(
    live_server: LiveServer,
) -> None:
    browser = requests.Session()
    browser.headers["Origin"] = live_server.url
    started = browser.post(
        f"{live_server.url}/api/auth/sign-in/social",
        json={"provider": "google", "callbackURL": "/won", "errorCallbackURL": "/lost"},
    )
    back = browser.get(started.json()["url"], allow_redirects=False).headers["Location"]
    cookies = browser.cookies.get_dict()

    def race(_: int) -> tuple[str, bool]:
        answer = requests.get(back, cookies=cookies, allow_redirects=False, timeout=30)
        return answer.headers["Location"], "better-auth.session_token" in answer.cookies

    with ThreadPoolExecutor(RACERS) as pool:
        results = list(pool.map(race, range(RACERS)))

    winners = [r for r in results if r == ("/won", True)]
    # A loser that finds the state already gone cannot know its errorCallbackURL any more.
    losers = [
        r
        for r in results
        if r[0]
        in ("/lost?error=state_mismatch", f"{live_server.url}/api/auth/error?error=state_mismatch")
        and not r[1]
    ]
    assert len(winners) == 1, results
    assert len(losers) == RACERS - 1, results
