"""Builds the configured connectors once per app."""

from __future__ import annotations

from idp.config import Settings
from idp.connectors.base import Connector
from idp.connectors.dev import DevConnector
from idp.connectors.google import GoogleConnector
from idp.connectors.oidc import OIDCConnector
from idp.connectors.twitch import TwitchConnector
from idp.runtime import Clock


class ConnectorRegistry:
    def __init__(self, connectors: list[Connector]) -> None:
        self._connectors = {c.id: c for c in connectors}

    def get(self, provider_id: str) -> Connector | None:
        return self._connectors.get(provider_id)

    def all(self) -> list[Connector]:
        return list(self._connectors.values())

    def dev(self) -> DevConnector | None:
        connector = self._connectors.get("dev")
        return connector if isinstance(connector, DevConnector) else None


def build_registry(settings: Settings, clock: Clock) -> ConnectorRegistry:
    connectors: list[Connector] = []
    for provider in settings.providers:
        if provider.kind == "dev":
            connectors.append(
                DevConnector(
                    base_url=settings.base_url, secret_key=settings.secret_key, clock=clock
                )
            )
            continue
        kind = {"google": GoogleConnector, "twitch": TwitchConnector}.get(
            provider.kind, OIDCConnector
        )
        connectors.append(kind(provider, clock=clock, timeout=settings.upstream_timeout))
    return ConnectorRegistry(connectors)
