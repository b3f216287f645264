"""``flask badges …`` and ``flask users …``: run the community from the command line.

Human tables by default, ``--json`` for scripts; a refused command prints why, exits non-zero,
and has changed nothing.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import click
from flask.cli import AppGroup

from idp.audit import record
from idp.dates import iso
from idp.models import Badge, User
from idp.runtime import get_runtime
from idp.users import badges as catalogue
from idp.users import moderation
from idp.users.presentation import PresentationError, checked_name_color

badges = AppGroup("badges", help="Manage the badge catalogue.")
users = AppGroup("users", help="Find, present and moderate users.")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
ACTOR_OPTION = click.option(
    "--actor", default="cli", show_default=True, help="Who acts, for the audit trail."
)


def _out(data: Any, as_json: bool, human: str) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False) if as_json else human)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "(none)"
    widths = {
        c: max(len(c), *(len(str(r.get(c) if r.get(c) is not None else "-")) for r in rows))
        for c in columns
    }
    lines = ["  ".join(f"{c:<{widths[c]}}" for c in columns)]
    for row in rows:
        lines.append(
            "  ".join(
                f"{row.get(c) if row.get(c) is not None else '-'!s:<{widths[c]}}" for c in columns
            )
        )
    return "\n".join(lines)


def _refuse(message: str) -> click.ClickException:
    return click.ClickException(message)


# -- badges -------------------------------------------------------------------------------------


def _badge_row(badge: Badge) -> dict[str, Any]:
    return {
        "id": badge.id,
        "label": badge.label,
        "icon": badge.icon_url,
        "description": badge.description,
        "color": badge.color,
        "order": badge.display_order,
    }


@badges.command("create")
@click.argument("slug")
@click.option("--label", required=True)
@click.option("--icon-url", required=True, help="An https URL of the icon.")
@click.option("--description", default="")
@click.option("--color", default=None, help="#RRGGBB")
@click.option("--order", "display_order", type=int, default=0, help="Display order (low first).")
@JSON_OPTION
def badges_create(
    slug: str,
    label: str,
    icon_url: str,
    description: str,
    color: str | None,
    display_order: int,
    as_json: bool,
) -> None:
    """Add a badge to the catalogue."""
    spec = catalogue.BadgeSpec(label, icon_url, description, color, display_order)
    try:
        badge = catalogue.create(slug, spec, get_runtime().now())
    except PresentationError as error:
        raise _refuse(str(error)) from None
    _out(_badge_row(badge), as_json, f"Created badge {badge.id}.")


@badges.command("list")
@JSON_OPTION
def badges_list(as_json: bool) -> None:
    """List the catalogue in display order."""
    rows = [_badge_row(b) for b in catalogue.catalogue()]
    _out(rows, as_json, _table(rows, ["id", "label", "color", "order", "icon"]))


@badges.command("update")
@click.argument("slug")
@click.option("--label")
@click.option("--icon-url")
@click.option("--description")
@click.option("--color", help="#RRGGBB, or 'none' to remove")
@click.option("--order", "display_order", type=int)
@JSON_OPTION
def badges_update(
    slug: str,
    label: str | None,
    icon_url: str | None,
    description: str | None,
    color: str | None,
    display_order: int | None,
    as_json: bool,
) -> None:
    """Change a badge; options not given keep their value."""
    badge = catalogue.get(slug)
    if badge is None:
        raise _refuse(f"no badge {slug}")
    spec = catalogue.BadgeSpec(
        label if label is not None else badge.label,
        icon_url if icon_url is not None else badge.icon_url,
        description if description is not None else badge.description,
        (None if color == "none" else color) if color is not None else badge.color,
        display_order if display_order is not None else badge.display_order,
    )
    try:
        catalogue.update(badge, spec, get_runtime().now())
    except PresentationError as error:
        raise _refuse(str(error)) from None
    _out(_badge_row(badge), as_json, f"Updated badge {slug}.")


@badges.command("delete")
@click.argument("slug")
@JSON_OPTION
def badges_delete(slug: str, as_json: bool) -> None:
    """Remove a badge from the catalogue and from everyone who holds it."""
    if not catalogue.remove(slug):
        raise _refuse(f"no badge {slug}")
    record("badge.deleted", actor="cli", subject=slug)
    _out({"id": slug, "deleted": True}, as_json, f"Deleted badge {slug}.")


# -- users --------------------------------------------------------------------------------------


def _user(reference: str) -> User:
    user = moderation.find_user(reference)
    if user is None:
        raise _refuse(f"no user {reference}")
    return user


def _user_row(user: User, *, detailed: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "role": user.role,
        "banned": user.banned_at is not None,
        "created": iso(user.created_at),
    }
    if detailed:
        runtime = get_runtime()
        shown = moderation.presentation(user, runtime.now())
        row |= {
            "emailVerified": user.email_verified,
            "nameColor": shown.name_color,
            "badges": shown.badges,
            "flair": shown.flair,
            "flairs": [moderation.flair_json(f) for f in moderation.available_flairs(user.id)],
            "bannedAt": iso(user.banned_at) if user.banned_at else None,
            "banReason": user.ban_reason,
            "accounts": [a.provider_id for a in user.accounts],
        }
    return row


def _show(user: User, as_json: bool, message: str) -> None:
    _out(_user_row(user, detailed=True), as_json, message)


@users.command("list")
@click.option("--search", help="Part of a name or email, or an id.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@JSON_OPTION
def users_list(search: str | None, limit: int, as_json: bool) -> None:
    """List users."""
    rows = [_user_row(u) for u in moderation.list_users(search, limit)]
    _out(rows, as_json, _table(rows, ["id", "name", "email", "role", "banned", "created"]))


@users.command("show")
@click.argument("user")
@JSON_OPTION
def users_show(user: str, as_json: bool) -> None:
    """Show one user (by id or email) with their presentation and accounts."""
    found = _user(user)
    row = _user_row(found, detailed=True)
    _out(
        row,
        as_json,
        "\n".join(
            f"{k:<14}{json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v}"
            for k, v in row.items()
        ),
    )


@users.command("grant-badge")
@click.argument("user")
@click.argument("badge")
@click.option("--days", type=click.IntRange(1, 36500), help="Expires after this many days.")
@ACTOR_OPTION
@JSON_OPTION
def users_grant_badge(user: str, badge: str, days: int | None, actor: str, as_json: bool) -> None:
    """Give USER the BADGE (optionally for a number of days)."""
    found = _user(user)
    if catalogue.get(badge) is None:
        raise _refuse(f"no badge {badge}")
    runtime = get_runtime()
    now = runtime.now()
    expires = now + timedelta(days=days) if days else None
    catalogue.grant(found.id, badge, by=actor, now=now, expires_at=expires)
    record("user.badge_granted", actor=actor, subject=found.id, badge=badge)
    _show(
        found,
        as_json,
        f"Granted {badge} to {found.id}" + (f" until {iso(expires)}." if expires else "."),
    )


@users.command("revoke-badge")
@click.argument("user")
@click.argument("badge")
@ACTOR_OPTION
@JSON_OPTION
def users_revoke_badge(user: str, badge: str, actor: str, as_json: bool) -> None:
    """Take BADGE away from USER."""
    found = _user(user)
    if not catalogue.revoke(found.id, badge):
        raise _refuse(f"{found.id} does not hold {badge}")
    record("user.badge_revoked", actor=actor, subject=found.id, badge=badge)
    _show(found, as_json, f"Revoked {badge} from {found.id}.")


@users.command("set-flair")
@click.argument("user")
@click.argument("text", required=False)
@click.option("--color", help="#RRGGBB")
@click.option("--clear", is_flag=True, help="Show no flair.")
@ACTOR_OPTION
@JSON_OPTION
def users_set_flair(
    user: str, text: str | None, color: str | None, clear: bool, actor: str, as_json: bool
) -> None:
    """Make a flair (TEXT, an emoji or a few words) available to USER and select it."""
    found = _user(user)
    runtime = get_runtime()
    if clear and (text or color):
        raise _refuse("--clear takes no TEXT or --color")
    if clear:
        moderation.clear_flair(found, now=runtime.now(), random=runtime.random, actor=actor)
    elif not text:
        raise _refuse("give the flair's TEXT, or --clear")
    else:
        try:
            moderation.give_flair(
                found, text, color, now=runtime.now(), random=runtime.random, actor=actor
            )
        except PresentationError as error:
            raise _refuse(str(error)) from None
    _show(found, as_json, f"Flair of {found.id} updated.")


@users.command("remove-flair")
@click.argument("user")
@click.argument("flair")
@ACTOR_OPTION
@JSON_OPTION
def users_remove_flair(user: str, flair: str, actor: str, as_json: bool) -> None:
    """Take the flair with id FLAIR (see `users show`) out of USER's list; if USER was showing
    it, they show none."""
    found = _user(user)
    if not moderation.remove_flair(found, flair, now=get_runtime().now(), actor=actor):
        raise _refuse(f"{found.id} has no flair {flair}")
    _show(found, as_json, f"Removed flair {flair} from {found.id}.")


@users.command("set-name-color")
@click.argument("user")
@click.argument("color")
@ACTOR_OPTION
@JSON_OPTION
def users_set_name_color(user: str, color: str, actor: str, as_json: bool) -> None:
    """Set USER's name colour (#RRGGBB, readable on both themes), or 'none'."""
    found = _user(user)
    try:
        chosen = None if color == "none" else checked_name_color(color)
        moderation.set_name_color(found, chosen, get_runtime().now())
    except PresentationError as error:
        raise _refuse(str(error)) from None
    record("user.name_color_set", actor=actor, subject=found.id, color=chosen)
    _show(found, as_json, f"Name colour of {found.id} is now {found.name_color or 'the default'}.")


def _role_command(name: str, role: str, summary: str) -> None:
    @users.command(name, help=summary)
    @click.argument("user")
    @ACTOR_OPTION
    @JSON_OPTION
    def command(user: str, actor: str, as_json: bool) -> None:
        found = _user(user)
        runtime = get_runtime()
        moderation.set_role(found, role, now=runtime.now(), random=runtime.random, actor=actor)
        _show(found, as_json, f"{found.id} is now {role}.")


_role_command("promote", "admin", "Make USER an admin.")
_role_command("demote", "user", "Make USER a regular user.")


@users.command("ban")
@click.argument("user")
@click.option("--reason", help="Kept for admins; never shown to other users.")
@ACTOR_OPTION
@JSON_OPTION
def users_ban(user: str, reason: str | None, actor: str, as_json: bool) -> None:
    """Suspend USER: every session and token ends now; signing in is refused."""
    found = _user(user)
    runtime = get_runtime()
    moderation.ban(found, reason, now=runtime.now(), random=runtime.random, actor=actor)
    _show(found, as_json, f"Banned {found.id}; all sessions and tokens revoked.")


@users.command("unban")
@click.argument("user")
@ACTOR_OPTION
@JSON_OPTION
def users_unban(user: str, actor: str, as_json: bool) -> None:
    """Lift USER's suspension (they sign in again to get a session)."""
    found = _user(user)
    runtime = get_runtime()
    moderation.unban(found, now=runtime.now(), random=runtime.random, actor=actor)
    _show(found, as_json, f"Unbanned {found.id}.")


@users.command("revoke-sessions")
@click.argument("user")
@ACTOR_OPTION
@JSON_OPTION
def users_revoke_sessions(user: str, actor: str, as_json: bool) -> None:
    """Sign USER out everywhere: sessions, and OpenID grants with their tokens."""
    found = _user(user)
    runtime = get_runtime()
    count = moderation.revoke_everything(found.id, runtime.now())
    record("user.sessions_revoked", actor=actor, subject=found.id)
    _out(
        {"id": found.id, "sessions": count},
        as_json,
        f"Revoked {count} session(s) and every token of {found.id}.",
    )


@users.command("delete")
@click.argument("user")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@ACTOR_OPTION
@JSON_OPTION
def users_delete(user: str, yes: bool, actor: str, as_json: bool) -> None:
    """Erase USER's personal data, accounts, sessions and tokens (an audit record remains)."""
    found = _user(user)
    if not yes:
        click.confirm(f"Erase {found.id} ({found.email or found.name}) for good?", abort=True)
    runtime = get_runtime()
    user_id = found.id
    moderation.delete_user(found, now=runtime.now(), random=runtime.random, actor=actor)
    _out({"id": user_id, "deleted": True}, as_json, f"Deleted {user_id}.")
