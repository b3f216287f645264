"""``flask data prune``: delete what has expired, from cron."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from idp import audit
from idp.oidc import store as oidc_store
from idp.ops import limits
from idp.runtime import get_runtime
from idp.sessions import store as session_store

data = AppGroup("data", help="Housekeeping of stored data.")


@data.command("prune")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def prune(as_json: bool) -> None:
    """Delete expired sessions, pending sign-ins, OpenID tokens, codes and grants, client
    assertions' ids, and counters.

    Safe at any time and on any host; run it from cron (hourly is plenty). A spent refresh
    token is kept until it would have expired, so that reusing it still revokes its grant.
    """
    now = get_runtime().now()
    oidc = oidc_store.prune(now)
    counts = {
        "sessions": session_store.prune(now),
        "signin_states": get_runtime().pending.purge_expired(now),
        "oauth_tokens": oidc.tokens,
        "oauth_codes": oidc.codes,
        "oauth_grants": oidc.grants,
        "client_assertions": oidc.assertions,
        "rate_limits": limits.prune(now.timestamp()),
    }
    if any(counts.values()):
        audit.record("data.pruned", actor="cli", subject=None, **counts)
    if as_json:
        click.echo(json.dumps(counts))
        return
    click.echo(" ".join(f"{name}={count}" for name, count in counts.items()))
