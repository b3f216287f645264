"""A relying party built on openid-client (npm, OpenID Certified, pinned in package.json).

``openid_client_rp.mjs`` discovers our provider, signs in through the fake Google provider with
the authorization code flow and PKCE, and then uses the token, userinfo, introspection,
revocation and end-session endpoints as an application would; see its header for the steps.
It runs for a confidential client with a secret (client_secret_basic), one with a key pair
(private_key_jwt), and a public one (PKCE only). ``make test`` installs the package with
``npm ci`` into ``tests/compat/node_modules``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey

from tests.fakes import FakeGoogle
from tests.live import PROJECT_ROOT, LiveServer, free_port

COMPAT_DIR = Path(__file__).resolve().parent
SCRIPT = COMPAT_DIR / "openid_client_rp.mjs"
NODE_MODULES = COMPAT_DIR / "node_modules"
NODE = shutil.which("node")
TIMEOUT = 60

# As for the Better Auth client: a missing Node or package is a failure, never a skip.
pytestmark = pytest.mark.compat


def _create_client(server: LiveServer, *, public: bool, jwks: Path | None = None) -> dict[str, Any]:
    """``flask clients create --json`` against the live server's database."""
    port = free_port()  # never served: the script reads the Location headers
    redirect_uri = f"http://127.0.0.1:{port}/cb"
    post_logout_uri = f"http://127.0.0.1:{port}/signed-out"
    kind = "public" if public else "confidential"
    args = [
        "clients",
        "create",
        "--name",
        f"openid-client RP ({kind})",
        "--redirect-uri",
        redirect_uri,
        "--post-logout-redirect-uri",
        post_logout_uri,
        "--first-party",
        "--json",
        *(["--public"] if public else []),
        *(["--auth-method", "private_key_jwt", "--jwks", str(jwks)] if jwks else []),
    ]
    run = subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=PROJECT_ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, f"flask clients create failed:\n{run.stdout}\n{run.stderr}"
    created: dict[str, Any] = json.loads(run.stdout)
    assert created["type"] == kind, created
    assert (created["client_secret"] is None) is (public or jwks is not None), created
    return {**created, "redirect_uri": redirect_uri, "post_logout_uri": post_logout_uri}


def _report(run: subprocess.CompletedProcess[str], server: LiveServer) -> str:
    return (
        f"node exited with {run.returncode}\n"
        f"--- stdout ---\n{run.stdout}\n"
        f"--- stderr ---\n{run.stderr}\n"
        f"--- server log ---\n{server.log()}"
    )


@pytest.mark.parametrize("auth", ["client_secret_basic", "private_key_jwt", "none"])
def test_openid_client_journey(
    live_server: LiveServer, live_google: FakeGoogle, auth: str, tmp_path: Path
) -> None:
    if NODE is None:
        pytest.fail("node is not on PATH (openid-client runs under Node 20)")
    if not (NODE_MODULES / "openid-client").is_dir():
        pytest.fail(f"{NODE_MODULES}/openid-client is missing: run `make install` (npm ci)")
    assert live_google.user.email is not None
    private_jwk = ""
    jwks = None
    if auth == "private_key_jwt":
        key = ECKey.generate_key("P-256", parameters={"kid": "openid-client-rp"})
        private_jwk = json.dumps(key.as_dict(private=True))
        jwks = tmp_path / "jwks.json"
        jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    registered = _create_client(live_server, public=auth == "none", jwks=jwks)
    env = {
        **os.environ,
        "ISSUER": live_server.url,
        "CLIENT_ID": registered["client_id"],
        "CLIENT_SECRET": registered["client_secret"] or "",
        "PRIVATE_JWK": private_jwk,
        "REDIRECT_URI": registered["redirect_uri"],
        "POST_LOGOUT_URI": registered["post_logout_uri"],
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
