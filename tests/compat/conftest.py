"""The live server and fake providers of the journeys, shared with the compatibility tests."""

from tests.e2e.conftest import live_google, live_server, live_twitch

__all__ = ["live_google", "live_server", "live_twitch"]
