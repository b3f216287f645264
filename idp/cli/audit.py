"""``flask audit list``: read the audit trail."""

from __future__ import annotations

import json
from datetime import datetime

import click
from flask.cli import AppGroup

from idp import audit as trail
from idp.dates import iso

audit = AppGroup("audit", help="Read the audit trail.")


@audit.command("list")
@click.option("--action", help="Action, or its prefix (e.g. 'signin.' or 'key.').")
@click.option("--subject", help="The user, client or key the event is about.")
@click.option("--actor", help="Who acted: a user id, 'cli', 'system', or an admin's name.")
@click.option(
    "--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), help="UTC."
)
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_events(
    action: str | None,
    subject: str | None,
    actor: str | None,
    since: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """The newest events first."""
    from datetime import UTC

    rows = [
        {
            "at": iso(event.at),
            "action": event.action,
            "actor": event.actor,
            "subject": event.subject,
            "details": json.loads(event.details) if event.details else {},
        }
        for event in trail.events(
            action=action,
            subject=subject,
            actor=actor,
            since=since.replace(tzinfo=UTC) if since else None,
            limit=limit,
        )
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No events.")
    for row in rows:
        details = " ".join(f"{k}={v}" for k, v in row["details"].items())
        subject = row["subject"] or "-"
        click.echo(f"{row['at']}  {row['action']:<24} {row['actor']:<20} {subject}  {details}")
