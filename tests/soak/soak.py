"""A bounded soak: mixed traffic against gunicorn on loopback, with key rotations, for minutes.

    python -m tests.soak.soak --seconds 180

Each simulated browser signs in through the fake Google, then keeps reading its session,
fetching and verifying session JWTs (as docs/services.md tells services to: the JWKS cached for
its max-age, an unknown kid refetched at most once per cooldown), refreshing the tokens of a
first-party OpenID client, reading the JWKS, and now and then signing in again. ``flask keys
rotate`` runs every ``--rotate-every`` seconds with short key timings, and the gunicorn workers'
resident memory is sampled every ``--sample-every`` seconds.

It prints the status codes and latencies per endpoint, the rotations, the memory samples and the
table sizes, and exits 1 when any request got a 5xx or no answer, a session JWT failed to
verify, a rotation failed, or the workers' memory grew by more than ``--max-growth-mib`` after
the warm-up.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from joserfc.jwk import KeySet
from sqlalchemy import create_engine, text

from idp.keys import jose
from tests.fakes import FakeGoogle, FakeUser
from tests.helpers import query_of
from tests.live import PROJECT_ROOT, LiveServer
from tests.oidc_helpers import REDIRECT_URI, AuthRequest, RegisteredClient

# What each browser does next, and how often.
MIX = {
    "get-session": 45,
    "session-jwt": 15,
    "refresh": 20,
    "jwks": 10,
    "sign-in-again": 5,
    "list-sessions": 5,
}


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    problems: list[str] = field(default_factory=list)
    verified: int = 0
    verify_failures: int = 0
    kids: set[str] = field(default_factory=set)

    def record(self, endpoint: str, status: int | str, seconds: float) -> None:
        with self.lock:
            self.statuses[endpoint][str(status)] += 1
            self.latencies[endpoint].append(seconds)
            failed = isinstance(status, str) or status >= 500
            if failed and len(self.problems) < 20:
                self.problems.append(f"{endpoint}: {status}")


class Browser:
    """One user's browser, and the first-party client's tokens it holds."""

    def __init__(self, index: int, soak: Soak) -> None:
        self.index, self.soak = index, soak
        self.http = requests.Session()
        self.http.headers["Origin"] = soak.server.url
        self.refresh_token: str | None = None
        self.keys: KeySet | None = None
        self.keys_fetched, self.keys_max_age, self.last_refetch = 0.0, 0, 0.0

    def call(self, endpoint: str, method: str, url: str, **kwargs: Any) -> requests.Response | None:
        began = time.monotonic()
        try:
            response = self.http.request(method, url, timeout=30, allow_redirects=False, **kwargs)
        except requests.RequestException as error:
            self.soak.stats.record(endpoint, type(error).__name__, time.monotonic() - began)
            return None
        self.soak.stats.record(endpoint, response.status_code, time.monotonic() - began)
        return response

    def sign_in(self) -> bool:
        base = self.soak.server.url
        started = self.call(
            "POST /api/auth/sign-in/social",
            "POST",
            f"{base}/api/auth/sign-in/social",
            json={"provider": "google", "callbackURL": "/home"},
        )
        if started is None or started.status_code != 200:
            return False
        with self.soak.google_lock:  # the fake issues codes for its current user
            self.soak.google.user = FakeUser(
                sub=f"soak-{self.index}", email=f"soak{self.index}@example.com", name="Soak"
            )
            at_google = requests.get(started.json()["url"], allow_redirects=False, timeout=30)
        back = self.call("GET /api/auth/callback/google", "GET", at_google.headers["Location"])
        return back is not None and back.headers.get("Location") == "/home"

    def authorize_client(self) -> None:
        client = self.soak.client
        request = AuthRequest(client, scope="openid profile")
        answer = self.call("GET /oauth2/authorize", "GET", f"{self.soak.server.url}{request.url()}")
        if answer is None or answer.status_code != 302:
            return
        code = query_of(answer.headers["Location"]).get("code")
        tokens = self.call(
            "POST /oauth2/token (code)",
            "POST",
            f"{self.soak.server.url}/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code or "",
                "redirect_uri": REDIRECT_URI,
                "code_verifier": request.verifier or "",
            },
            auth=(client.client_id, client.client_secret or ""),
        )
        if tokens is not None and tokens.status_code == 200:
            self.refresh_token = tokens.json().get("refresh_token")

    def refresh(self) -> None:
        if self.refresh_token is None:
            self.authorize_client()
            return
        client = self.soak.client
        answer = self.call(
            "POST /oauth2/token (refresh)",
            "POST",
            f"{self.soak.server.url}/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": self.refresh_token},
            auth=(client.client_id, client.client_secret or ""),
        )
        if answer is not None and answer.status_code == 200:
            self.refresh_token = answer.json()["refresh_token"]
        else:
            self.refresh_token = None

    def key_set(self, kid: str | None) -> KeySet | None:
        """The JWKS as docs/services.md caches it: for max-age, and refetched on an unknown kid
        at most once per cooldown."""
        now = time.monotonic()
        unknown = self.keys is not None and kid not in {k.kid for k in self.keys}
        expired = now - self.keys_fetched >= self.keys_max_age
        if self.keys is None or expired or (unknown and now - self.last_refetch >= 2):
            if unknown and not expired:
                self.last_refetch = now
            answer = self.call(
                "GET /.well-known/jwks.json (verifier)",
                "GET",
                f"{self.soak.server.url}/.well-known/jwks.json",
            )
            if answer is None or answer.status_code != 200:
                return self.keys
            self.keys = KeySet.import_key_set(answer.json())
            self.keys_fetched = now
            found = re.search(r"max-age=(\d+)", answer.headers.get("Cache-Control", ""))
            self.keys_max_age = int(found.group(1)) if found else 0
        return self.keys

    def session_jwt(self) -> None:
        answer = self.call("GET /api/auth/token", "GET", f"{self.soak.server.url}/api/auth/token")
        if answer is None or answer.status_code != 200:
            return
        token = answer.json()["token"]
        kid = json.loads(jose_header(token)).get("kid")
        keys = self.key_set(kid)
        stats = self.soak.stats
        try:
            assert keys is not None
            header, _ = jose.verify_signature(token, keys)
        except (AssertionError, jose.TokenError) as error:
            with stats.lock:
                stats.verify_failures += 1
                stats.problems.append(f"session JWT did not verify: {error}")
            return
        with stats.lock:
            stats.verified += 1
            stats.kids.add(str(header["kid"]))

    def step(self, action: str) -> None:
        base = self.soak.server.url
        if action == "get-session":
            answer = self.call("GET /api/auth/get-session", "GET", f"{base}/api/auth/get-session")
            if answer is not None and answer.status_code == 200 and answer.json() is None:
                self.soak.stats.problems.append(f"browser {self.index} was signed out")
                self.sign_in()
        elif action == "session-jwt":
            self.session_jwt()
        elif action == "refresh":
            self.refresh()
        elif action == "jwks":
            self.call("GET /.well-known/jwks.json", "GET", f"{base}/.well-known/jwks.json")
        elif action == "sign-in-again":
            self.sign_in()
        elif action == "list-sessions":
            self.call("GET /api/auth/list-sessions", "GET", f"{base}/api/auth/list-sessions")


def jose_header(token: str) -> str:
    import base64

    head = token.split(".")[0]
    return base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode()


@dataclass
class Soak:
    server: LiveServer
    google: FakeGoogle
    client: RegisteredClient
    stats: Stats = field(default_factory=Stats)
    google_lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    rotations: list[tuple[float, str]] = field(default_factory=list)
    memory: list[tuple[float, dict[int, int]]] = field(default_factory=list)


def flask_command(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=PROJECT_ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def workers_rss(master: int) -> dict[int, int]:
    """Resident memory (KiB) of each gunicorn worker."""
    listed = subprocess.run(
        ["ps", "--ppid", str(master), "-o", "pid=,rss="],
        capture_output=True,
        text=True,
        check=False,
    )
    pairs = (line.split() for line in listed.stdout.splitlines() if line.strip())
    return {int(pid): int(rss) for pid, rss in pairs}


def run_browser(soak: Soak, index: int, seed: int) -> None:
    chooser = random.Random(seed)
    actions, weights = list(MIX), list(MIX.values())
    browser = Browser(index, soak)
    while not soak.stop.is_set() and not browser.sign_in():
        time.sleep(0.5)
    browser.authorize_client()
    while not soak.stop.is_set():
        browser.step(chooser.choices(actions, weights)[0])


def run_rotations(soak: Soak, every: float, started: float) -> None:
    """``flask keys rotate`` at ``every``, 2 ``every``, … seconds (a command takes seconds)."""
    due = started + every
    while not soak.stop.wait(max(0.0, due - time.monotonic())):
        due += every
        result = flask_command(soak.server, "keys", "rotate", "--json")
        outcome = "ok" if result.returncode == 0 else f"refused: {result.stderr.strip()[:120]}"
        if result.returncode == 0:
            rotated = json.loads(result.stdout)
            outcome = f"ok, {rotated['active'][:8]}… signs"
        soak.rotations.append((time.monotonic() - started, outcome))


def run_sampler(soak: Soak, master: int, every: float, started: float) -> None:
    soak.memory.append((0.0, workers_rss(master)))
    while not soak.stop.wait(every):
        soak.memory.append((time.monotonic() - started, workers_rss(master)))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def report(
    soak: Soak, seconds: float, rows: dict[str, int], warmup: float
) -> tuple[str, list[str]]:
    lines: list[str] = []
    failures: list[str] = []
    stats = soak.stats
    total = sum(sum(c.values()) for c in stats.statuses.values())
    lines.append(f"{total} requests in {seconds:.0f} s ({total / seconds:.1f}/s)")
    lines.append("")
    heading = f"{'endpoint':<40} {'requests':>8}  {'statuses':<26}"
    lines.append(f"{heading} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}")
    for endpoint in sorted(stats.statuses):
        counter = stats.statuses[endpoint]
        latencies = stats.latencies[endpoint]
        shown = " ".join(f"{code}:{count}" for code, count in sorted(counter.items()))
        lines.append(
            f"{endpoint:<40} {sum(counter.values()):>8}  {shown:<26} "
            f"{statistics.median(latencies) * 1000:>7.1f} "
            f"{percentile(latencies, 0.95) * 1000:>7.1f} {max(latencies) * 1000:>7.1f}"
        )
        bad = {c: n for c, n in counter.items() if not c.isdigit() or int(c) >= 500}
        if bad:
            failures.append(f"{endpoint}: {bad}")
    lines.append("")
    lines.append(
        f"session JWTs verified: {stats.verified}, failed: {stats.verify_failures}, "
        f"kids seen: {len(stats.kids)}"
    )
    if stats.verify_failures:
        failures.append(f"{stats.verify_failures} session JWTs failed to verify")
    lines.append("rotations: " + "; ".join(f"{t:.0f} s {o}" for t, o in soak.rotations))
    failures += [f"rotation at {t:.0f} s {o}" for t, o in soak.rotations if not o.startswith("ok")]
    lines.append("")
    pids = sorted({pid for _, sample in soak.memory for pid in sample})
    lines.append(
        f"{'t (s)':>6}  " + "  ".join(f"{'worker ' + str(p) + ' RSS MiB':>22}" for p in pids)
    )
    for moment, sample in soak.memory:
        cells = [f"{sample[p] / 1024:>22.1f}" if p in sample else f"{'-':>22}" for p in pids]
        lines.append(f"{moment:>6.0f}  " + "  ".join(cells))
    lines.append("")
    lines.append("rows at the end: " + ", ".join(f"{k} {v}" for k, v in rows.items()))
    if stats.problems:
        lines.append("first problems: " + "; ".join(stats.problems[:10]))
    return "\n".join(lines), failures


def memory_growth(soak: Soak, warmup: float) -> dict[int, float]:
    """MiB each worker grew from its first sample after its warm-up to its last one. A worker
    that gunicorn started during the soak (``max_requests`` recycles them) warms up too."""
    first_seen: dict[int, float] = {}
    for moment, sample in soak.memory:
        for pid in sample:
            first_seen.setdefault(pid, moment)
    growth: dict[int, float] = {}
    for pid, born in first_seen.items():
        settled = [s[pid] for t, s in soak.memory if pid in s and t >= max(warmup, born + warmup)]
        if len(settled) >= 2:
            growth[pid] = (settled[-1] - settled[0]) / 1024
    return growth


def table_rows(url: str) -> dict[str, int]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            return {
                name: int(connection.execute(text(f"SELECT count(*) FROM {name}")).scalar() or 0)  # noqa: S608
                for name in ("users", "sessions", "oauth_grants", "oauth_tokens", "signing_keys")
            }
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--browsers", type=int, default=8, help="concurrent simulated browsers")
    parser.add_argument("--rotate-every", type=float, default=30)
    parser.add_argument("--sample-every", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=30, help="seconds before memory counts")
    parser.add_argument("--max-growth-mib", type=float, default=20)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    with (
        tempfile.TemporaryDirectory(prefix="idp-soak-") as tmp,
        FakeGoogle(client_id="soak-google", client_secret="soak-google-secret") as google,
    ):
        instance = Path(tmp)
        database_url = args.database_url or f"sqlite:///{instance / 'soak.sqlite3'}"
        server = LiveServer(
            database_url=database_url,
            instance=instance,
            workers=args.workers,
            env={
                "IDP_GOOGLE_CLIENT_ID": google.client_id,
                "IDP_GOOGLE_CLIENT_SECRET": google.client_secret,
                "IDP_GOOGLE_ISSUER": google.issuer,
                # A next key may sign after JWKS_MAX_AGE + KEYS_REFRESH_INTERVAL = 7 s.
                "IDP_JWKS_MAX_AGE": "5",
                "IDP_KEYS_REFRESH_INTERVAL": "2",
            },
        )
        with server:
            created = flask_command(
                server,
                "clients",
                "create",
                "--name",
                "Soak RP",
                "--redirect-uri",
                REDIRECT_URI,
                "--first-party",
                "--json",
            )
            if created.returncode != 0:
                print(created.stderr, file=sys.stderr)
                return 1
            registered = json.loads(created.stdout)
            client = RegisteredClient(registered["client_id"], registered["client_secret"])
            # A fresh install makes its first keys on first use; make them before the traffic
            # (the race of concurrent first uses is tests/security/test_faults.py's).
            requests.get(f"{server.url}/.well-known/jwks.json", timeout=30).raise_for_status()
            soak = Soak(server=server, google=google, client=client)
            assert server._process is not None
            master = server._process.pid
            started = time.monotonic()
            threads = [
                threading.Thread(target=run_browser, args=(soak, i, args.seed + i), daemon=True)
                for i in range(args.browsers)
            ]
            threads.append(
                threading.Thread(
                    target=run_rotations, args=(soak, args.rotate_every, started), daemon=True
                )
            )
            threads.append(
                threading.Thread(
                    target=run_sampler, args=(soak, master, args.sample_every, started), daemon=True
                )
            )
            for thread in threads:
                thread.start()
            soak.stop.wait(args.seconds)
            soak.stop.set()
            soak.memory.append((time.monotonic() - started, workers_rss(master)))
            for thread in threads:
                thread.join(60)
            elapsed = time.monotonic() - started
            rows = table_rows(database_url)
            table, failures = report(soak, elapsed, rows, args.warmup)
            growth = memory_growth(soak, args.warmup)
            print(table)
            print(
                "memory growth after warm-up (MiB): "
                + ", ".join(f"{pid}: {mib:+.1f}" for pid, mib in sorted(growth.items()))
            )
            failures += [
                f"worker {pid} grew {mib:.1f} MiB after the warm-up"
                for pid, mib in growth.items()
                if mib > args.max_growth_mib
            ]
            if "Traceback" in server.log():
                failures.append("the server log has a traceback")
    print("\nRESULT: " + ("FAIL\n  " + "\n  ".join(failures) if failures else "PASS"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
