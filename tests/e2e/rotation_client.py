"""A verifier as an integrator writes one: fetch tokens, verify them offline, count failures.

Run as ``python -m tests.e2e.rotation_client URL COOKIE STOP_FILE``: it runs until STOP_FILE
exists (two minutes at most). It caches the JWKS for as
long as the server's ``Cache-Control: max-age`` allows and never refetches on an unknown
``kid``: so a zero failure count proves that every key was published before it signed.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import requests
from joserfc.jwk import KeySet

from idp.keys import jose


def main(url: str, cookie: str, stop_file: Path) -> dict[str, object]:
    http = requests.Session()
    keys: KeySet | None = None
    fetched_at, max_age = 0.0, 0
    ok = failed = 0
    kids: set[str] = set()
    errors: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not stop_file.exists():
        if keys is None or time.monotonic() - fetched_at >= max_age:
            answer = http.get(f"{url}/.well-known/jwks.json", timeout=10)
            keys = KeySet.import_key_set(answer.json())
            fetched_at = time.monotonic()
            found = re.search(r"max-age=(\d+)", answer.headers.get("Cache-Control", ""))
            max_age = int(found.group(1)) if found else 0
        response = http.get(f"{url}/api/auth/token", headers={"Cookie": cookie}, timeout=10)
        if response.status_code != 200:
            failed += 1
            errors.append(f"HTTP {response.status_code}")
            continue
        try:
            header, _ = jose.verify_signature(response.json()["token"], keys)
        except jose.TokenError as error:
            failed += 1
            errors.append(str(error))
            continue
        ok += 1
        if not kids:
            print("ready", flush=True)  # the test rotates only once every verifier runs
        kids.add(str(header["kid"]))
    return {"ok": ok, "failed": failed, "kids": sorted(kids), "errors": errors[:5]}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))))
