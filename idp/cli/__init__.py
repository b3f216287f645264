"""``flask`` command groups. Commands are thin click functions over plain functions."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the command groups (keys, clients, users, badges arrive with their features)."""
