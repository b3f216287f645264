"""A response as plain values, built by pure functions and sent by a Flask view or the fast
lane (:mod:`idp.fastlane`), so that both answer alike."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Response


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def response(self) -> Response:
        response = Response(self.body, status=self.status, headers=self.headers)
        if not any(name.lower() == "content-type" for name, _ in self.headers):
            del response.headers["Content-Type"]  # Werkzeug's default (text/html) is not ours
        return response
