"""``flask keys …``: list, generate, rotate, revoke, prune, rewrap, new-kek.

Thin click commands over :mod:`idp.keys.store`. Human output by default, ``--json`` for
scripts; a refused operation prints why and exits non-zero, having changed nothing.
"""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import AppGroup

from idp.audit import record
from idp.config import SIGNING_ALGS, SigningAlg, generate_key_encryption_key
from idp.dates import iso
from idp.keys import store
from idp.keys.crypto import KeyDecryptionError
from idp.models import SigningKey
from idp.runtime import get_runtime

keys = AppGroup("keys", help="Manage the signing keys (JWKS, session JWTs, ID tokens).")

ALG_CHOICE = click.Choice(SIGNING_ALGS)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _when(value: Any) -> str | None:
    return iso(value) if value is not None else None


def _row(key: SigningKey) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "alg": key.alg,
        "state": key.state,
        "created": _when(key.created_at),
        "activated": _when(key.activated_at),
        "retired": _when(key.retired_at),
        "retires": _when(key.expires_at),
        "revoked": _when(key.revoked_at),
    }


def _echo(data: Any, as_json: bool, human: str) -> None:
    click.echo(json.dumps(data, indent=2) if as_json else human)


def _refused(error: Exception) -> click.ClickException:
    return click.ClickException(str(error))


@keys.command("list")
@JSON_OPTION
def list_keys(as_json: bool) -> None:
    """List keys: kid, algorithm, state, created, activated, retires."""
    rows = [_row(k) for k in store.all_keys()]
    columns = ["kid", "alg", "state", "created", "activated", "retires"]
    lines = ["  ".join(f"{c:<{_width(rows, c)}}" for c in columns)]
    for row in rows:
        lines.append("  ".join(f"{row[c] or '-':<{_width(rows, c)}}" for c in columns))
    _echo(
        rows, as_json, "\n".join(lines) if rows else "No keys yet; the first is made on first use."
    )


def _width(rows: list[dict[str, Any]], column: str) -> int:
    return max([len(column), *(len(str(r[column] or "-")) for r in rows)])


@keys.command("generate")
@click.option("--alg", type=ALG_CHOICE, required=True, help="Algorithm of the new key.")
@JSON_OPTION
def generate(alg: SigningAlg, as_json: bool) -> None:
    """Publish a new next key for ALG (it signs after `flask keys rotate`)."""
    runtime = get_runtime()
    try:
        row = store.generate(alg, runtime.now(), runtime.keys.encryption)
    except store.KeyLifecycleError as error:
        raise _refused(error) from None
    runtime.keys.invalidate()
    record("key.generated", actor="cli", subject=row.kid, alg=alg)
    _echo(_row(row), as_json, f"Published next {alg} key {row.kid}.")


@keys.command("rotate")
@click.option("--alg", type=ALG_CHOICE, default=None, help="Algorithm (default: IDP_SIGNING_ALG).")
@click.option("--force", is_flag=True, help="Promote a next key published too recently.")
@JSON_OPTION
def rotate(alg: SigningAlg | None, force: bool, as_json: bool) -> None:
    """Promote next to active, retire the active key, publish a new next key."""
    runtime = get_runtime()
    settings = runtime.settings
    chosen = alg or settings.signing_alg
    try:
        result = store.rotate(
            chosen,
            runtime.now(),
            runtime.keys.encryption,
            min_publish_time=settings.min_publish_time,
            max_token_lifetime=settings.max_token_lifetime,
            refresh_interval=settings.keys_refresh_interval,
            force=force,
        )
    except store.KeyLifecycleError as error:
        raise _refused(error) from None
    runtime.keys.invalidate()
    record("key.rotated", actor="cli", subject=result.activated, alg=chosen, retired=result.retired)
    data = {
        "alg": chosen,
        "retired": result.retired,
        "active": result.activated,
        "next": result.created,
    }
    _echo(
        data,
        as_json,
        f"{chosen}: {result.activated} now signs; {result.retired or 'no key'} retired "
        f"(still published); {result.created} published as next. Every worker picks this up "
        f"within {settings.keys_refresh_interval} s.",
    )


# A kid is a base64url thumbprint: one in 64 starts with "-", which must not read as an option.
@keys.command("revoke", context_settings={"ignore_unknown_options": True})
@click.argument("kid")
@JSON_OPTION
def revoke(kid: str, as_json: bool) -> None:
    """Withdraw a compromised key KID at once: it leaves the JWKS and its tokens stop verifying."""
    runtime = get_runtime()
    try:
        rotation = store.revoke(kid, runtime.now(), runtime.keys.encryption)
    except store.KeyLifecycleError as error:
        raise _refused(error) from None
    runtime.keys.invalidate()
    record("key.revoked", actor="cli", subject=kid)
    data = {"revoked": kid, "active": rotation.activated if rotation else None}
    human = f"Revoked {kid}."
    if rotation:
        human += f" It was signing: {rotation.activated} signs from now on."
    _echo(data, as_json, human)


@keys.command("prune")
@JSON_OPTION
def prune(as_json: bool) -> None:
    """Delete retired keys whose last token has expired."""
    runtime = get_runtime()
    removed = store.prune(runtime.now())
    runtime.keys.invalidate()
    if removed:
        record("key.pruned", actor="cli", kids=removed)
    _echo(
        {"removed": removed}, as_json, f"Removed {len(removed)} retired key(s). {' '.join(removed)}"
    )


@keys.command("rewrap")
@JSON_OPTION
def rewrap(as_json: bool) -> None:
    """Re-encrypt every private key under IDP_KEY_ENCRYPTION_KEY.

    Set the new key as IDP_KEY_ENCRYPTION_KEY and the old one in
    IDP_PREVIOUS_KEY_ENCRYPTION_KEYS, run this, then drop the old one.
    """
    runtime = get_runtime()
    try:
        count = store.rewrap(runtime.keys.encryption)
    except KeyDecryptionError as error:
        raise _refused(error) from None
    runtime.keys.invalidate()
    kek = runtime.keys.encryption.current_id
    record("key.rewrapped", actor="cli", count=count, kek=kek)
    _echo(
        {"rewrapped": count, "kek": kek},
        as_json,
        f"Re-encrypted {count} key(s) under key-encryption key {kek}.",
    )


@keys.command("new-kek")
def new_kek() -> None:
    """Print a new random key-encryption key (for IDP_KEY_ENCRYPTION_KEY)."""
    click.echo(generate_key_encryption_key())
