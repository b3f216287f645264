"""Starting the server: a refused configuration says why, in one line, and exits non-zero;
gunicorn started without -OO says how production should start it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from idp.config import generate_key_encryption_key
from tests.e2e.conftest import live_database_url
from tests.live import PROJECT_ROOT, LiveServer

pytestmark = pytest.mark.e2e

KEK = generate_key_encryption_key()


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({}, "IDP_DATABASE_URL is required in production"),
        (
            {
                "IDP_DATABASE_URL": "sqlite:////tmp/x.db",
                "IDP_SECRET_KEY": "k" * 48,
                "IDP_KEY_ENCRYPTION_KEY": "",
            },
            "IDP_KEY_ENCRYPTION_KEY is required",
        ),
        (
            {
                "IDP_DATABASE_URL": "sqlite:////tmp/x.db",
                "IDP_SECRET_KEY": "k" * 48,
                "IDP_KEY_ENCRYPTION_KEY": "dev-kek-" + KEK,
                "IDP_BASE_URL": "https://chat.example",
                "IDP_DEV_CONNECTOR": "false",
            },
            "IDP_KEY_ENCRYPTION_KEY is a development key",
        ),
        ({"IDP_DATABASE_URL": "sqlite:////tmp/x.db"}, "IDP_SECRET_KEY is required"),
        (
            {
                "IDP_DATABASE_URL": "sqlite:////tmp/x.db",
                "IDP_SECRET_KEY": "dev-insecure-" + "x" * 40,
            },
            "development secret",
        ),
        (
            {"IDP_DATABASE_URL": "sqlite:////tmp/x.db", "IDP_SECRET_KEY": "k" * 48},
            "must use https in production",
        ),
        (
            {
                "IDP_DATABASE_URL": "sqlite:////tmp/x.db",
                "IDP_SECRET_KEY": "k" * 48,
                "IDP_BASE_URL": "https://chat.example",
            },
            "development sign-in connector",
        ),
    ],
)
def test_production_refuses_to_start_with_development_conveniences(
    env: dict[str, str], reason: str
) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    base |= {
        "IDP_ENV": "production",
        "IDP_BASE_URL": "http://chat.example",
        "IDP_DEV_CONNECTOR": "true",
        "IDP_KEY_ENCRYPTION_KEY": KEK,
    }
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=PROJECT_ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip().startswith("idp: refusing to start:")
    assert reason in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("optimize", [True, False], ids=["python -OO", "plain"])
def test_gunicorn_started_without_minus_oo_says_how_to_start_it(
    optimize: bool, migrated_database: str, tmp_path: Path
) -> None:
    server = LiveServer(
        database_url=live_database_url(migrated_database, tmp_path),
        instance=tmp_path,
        workers=1,
        optimize=optimize,
    )
    with server:
        warned = "Python runs without -OO" in server.log()
    assert warned is not optimize
