"""``flask clients …``: register and manage the applications that sign users in through us."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import click
from flask.cli import AppGroup

from idp.audit import record
from idp.dates import iso
from idp.models import OAuthClient
from idp.oidc import clients as registry
from idp.oidc import rules, store
from idp.runtime import get_runtime

clients = AppGroup("clients", help="Register and manage OpenID Connect clients.")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
SCOPE_CHOICE = click.Choice(rules.SUPPORTED_SCOPES)
GRANT_CHOICE = click.Choice(registry.GRANT_TYPES)


def _row(client: OAuthClient) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "type": "public" if client.is_public else "confidential",
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "scopes": client.scopes.split(),
        "grant_types": client.grant_types,
        "first_party": client.first_party,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "jwks": client.jwks,
        "created": iso(client.created_at),
    }


def _human(row: dict[str, Any]) -> str:
    shown = dict(row)
    if shown.get("jwks") is not None:  # the key ids (or types), not whole keys
        shown["jwks"] = [k.get("kid") or k.get("kty") for k in shown["jwks"]["keys"]]
    width = max(len(k) for k in shown)
    return "\n".join(
        f"{k:<{width}}  {' '.join(v) if isinstance(v, list) else v}" for k, v in shown.items()
    )


def _read_jwks(source: str) -> Any:
    """The JSON of a ``--jwks`` file ("-" for standard input)."""
    try:
        with click.open_file(source, encoding="utf-8") as opened:
            return json.load(opened)
    except OSError as error:
        raise click.ClickException(f"cannot read the JWKS: {error.strerror or error}") from None
    except ValueError:
        raise click.ClickException("the JWKS is not JSON") from None


def _find(client_id: str) -> OAuthClient:
    client = store.get_client(client_id)
    if client is None:
        raise click.ClickException(f"no client with id {client_id}")
    return client


@clients.command("create")
@click.option("--name", required=True, help="Shown to users on the consent page.")
@click.option("--public", is_flag=True, help="A browser or native app: no secret, PKCE required.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Exact redirect URI (repeat).")
@click.option(
    "--post-logout-redirect-uri", "post_logout", multiple=True, help="Exact URI (repeat)."
)
@click.option("--scope", "scopes", multiple=True, type=SCOPE_CHOICE, help="Allowed scope (repeat).")
@click.option("--grant-type", "grant_types", multiple=True, type=GRANT_CHOICE, help="(repeat)")
@click.option("--first-party", is_flag=True, help="Ours: users are not asked for consent.")
@click.option(
    "--backchannel-logout-uri", help="Where to POST a logout token when a user's session ends."
)
@click.option(
    "--auth-method",
    type=click.Choice(registry.AUTH_METHODS),
    default="client_secret_basic",
    show_default=True,
    help="private_key_jwt: the client signs assertions with its own keys (--jwks), no secret.",
)
@click.option(
    "--jwks",
    "jwks_file",
    metavar="FILE",
    help="The client's public keys, a JWKS (JSON file, - for stdin): for private_key_jwt.",
)
@JSON_OPTION
def create(
    name: str,
    public: bool,
    redirect_uris: tuple[str, ...],
    post_logout: tuple[str, ...],
    scopes: tuple[str, ...],
    grant_types: tuple[str, ...],
    first_party: bool,
    backchannel_logout_uri: str | None,
    auth_method: str,
    jwks_file: str | None,
    as_json: bool,
) -> None:
    """Register a client. A confidential client's secret is printed once, never again; a
    private_key_jwt client has none."""
    spec = registry.ClientSpec(
        name=name,
        public=public,
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout,
        scopes=scopes or registry.DEFAULT_SCOPES,
        grant_types=grant_types or ("authorization_code", "refresh_token"),
        first_party=first_party,
        auth_method=auth_method,
        backchannel_logout_uri=backchannel_logout_uri or None,
        jwks=_read_jwks(jwks_file) if jwks_file is not None else None,
    )
    try:
        client, secret = registry.create(spec, get_runtime())
    except registry.ClientError as error:
        raise click.ClickException(str(error)) from None
    record("client.created", actor="cli", subject=client.client_id, public=public)
    row = _row(client)
    if as_json:
        click.echo(json.dumps({**row, "client_secret": secret}, indent=2))
        return
    click.echo(_human(row))
    if secret:
        click.echo(f"\nclient_secret  {secret}\nStore it now: it is shown only this once.")


@clients.command("list")
@JSON_OPTION
def list_clients(as_json: bool) -> None:
    """List registered clients."""
    rows = [_row(c) for c in store.list_clients()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No clients yet: flask clients create --help")
    for row in rows:
        click.echo(f"{row['client_id']}  {row['type']:<12}  {row['name']}")


@clients.command("show")
@click.argument("client_id")
@JSON_OPTION
def show(client_id: str, as_json: bool) -> None:
    """Show one client's settings (never its secret)."""
    row = _row(_find(client_id))
    click.echo(json.dumps(row, indent=2) if as_json else _human(row))


@clients.command("update")
@click.argument("client_id")
@click.option("--name")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Replaces the list (repeat).")
@click.option("--post-logout-redirect-uri", "post_logout", multiple=True, help="Replaces the list.")
@click.option("--scope", "scopes", multiple=True, type=SCOPE_CHOICE, help="Replaces the list.")
@click.option("--grant-type", "grant_types", multiple=True, type=GRANT_CHOICE, help="Replaces it.")
@click.option("--first-party/--third-party", default=None)
@click.option("--backchannel-logout-uri", help="Replaces it; an empty value removes it.")
@click.option(
    "--jwks",
    "jwks_file",
    metavar="FILE",
    help="Replaces a private_key_jwt client's keys (JSON file, - for stdin).",
)
@JSON_OPTION
def update(
    client_id: str,
    name: str | None,
    redirect_uris: tuple[str, ...],
    post_logout: tuple[str, ...],
    scopes: tuple[str, ...],
    grant_types: tuple[str, ...],
    first_party: bool | None,
    backchannel_logout_uri: str | None,
    jwks_file: str | None,
    as_json: bool,
) -> None:
    """Change a client's settings; options not given keep their value."""
    client = _find(client_id)
    spec = registry.spec_of(client)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name
    if redirect_uris:
        changes["redirect_uris"] = redirect_uris
    if post_logout:
        changes["post_logout_redirect_uris"] = post_logout
    if scopes:
        changes["scopes"] = scopes
    if grant_types:
        changes["grant_types"] = grant_types
    if first_party is not None:
        changes["first_party"] = first_party
    if backchannel_logout_uri is not None:
        changes["backchannel_logout_uri"] = backchannel_logout_uri or None
    if jwks_file is not None:
        changes["jwks"] = _read_jwks(jwks_file)
    try:
        registry.update(client, replace(spec, **changes), get_runtime())
    except registry.ClientError as error:
        raise click.ClickException(str(error)) from None
    record("client.updated", actor="cli", subject=client_id, changed=sorted(changes))
    row = _row(client)
    click.echo(json.dumps(row, indent=2) if as_json else _human(row))


@clients.command("rotate-secret")
@click.argument("client_id")
@JSON_OPTION
def rotate_secret(client_id: str, as_json: bool) -> None:
    """Replace a confidential client's secret; the old one stops working at once."""
    try:
        secret = registry.rotate_secret(_find(client_id), get_runtime())
    except registry.ClientError as error:
        raise click.ClickException(str(error)) from None
    record("client.secret_rotated", actor="cli", subject=client_id)
    if as_json:
        click.echo(json.dumps({"client_id": client_id, "client_secret": secret}))
    else:
        click.echo(f"client_secret  {secret}\nStore it now: it is shown only this once.")


@clients.command("delete")
@click.argument("client_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(client_id: str, yes: bool) -> None:
    """Delete a client with its consents and every token it holds."""
    client = _find(client_id)
    if not yes:
        click.confirm(f"Delete {client.name} ({client_id}) and revoke all its tokens?", abort=True)
    store.delete_client(client_id)
    record("client.deleted", actor="cli", subject=client_id)
    click.echo(f"Deleted {client_id}.")
