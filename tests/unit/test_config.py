"""Settings: defaults, validation, and what production refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from idp.config import ConfigError, generate_key_encryption_key, load_settings

SECRET = "s" * 48
KEK = generate_key_encryption_key()


def base_env(**extra: str) -> dict[str, str]:
    return {
        "IDP_ENV": "production",
        "IDP_BASE_URL": "https://chat.example",
        "IDP_DATABASE_URL": "postgresql://db/idp",
        "IDP_SECRET_KEY": SECRET,
        "IDP_DEV_CONNECTOR": "false",
        "IDP_KEY_ENCRYPTION_KEY": KEK,
        **extra,
    }


def test_a_complete_production_configuration_loads(tmp_path: Path) -> None:
    settings = load_settings(base_env(), instance_path=str(tmp_path))
    assert settings.is_production
    assert settings.database_url == "postgresql+psycopg://db/idp"
    assert settings.secure_cookies
    assert settings.providers == ()
    assert settings.session_expires_in == 7 * 86400
    assert settings.session_update_age == 86400


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"IDP_SECRET_KEY": ""}, "IDP_SECRET_KEY is required"),
        ({"IDP_SECRET_KEY": "short"}, "at least 32 characters"),
        ({"IDP_SECRET_KEY": "dev-insecure-" + "x" * 40}, "development secret"),
        ({"IDP_BASE_URL": "http://chat.example"}, "must use https"),
        ({"IDP_DEV_CONNECTOR": "true"}, "development sign-in connector"),
        ({"IDP_DATABASE_URL": ""}, "IDP_DATABASE_URL is required"),
        ({"IDP_ENV": "staging"}, "IDP_ENV must be"),
        ({"IDP_BASE_URL": "chat.example"}, "absolute http(s) URL"),
        ({"IDP_TRUSTED_ORIGINS": "https://a.example/path"}, "is not an origin"),
        ({"IDP_COOKIE_DOMAIN": "other.example"}, "does not cover"),
        (
            {"IDP_COOKIE_DOMAIN": "localhost", "IDP_BASE_URL": "http://localhost:8000"},
            "single label",
        ),
        ({"IDP_SESSION_UPDATE_AGE": "999999999"}, "shorter than"),
        ({"IDP_SESSION_EXPIRES_IN": "soon"}, "must be an integer"),
        ({"IDP_GOOGLE_CLIENT_ID": "id"}, "CLIENT_SECRET is required"),
        ({"IDP_OIDC_PROVIDERS": "discord"}, "IDP_OIDC_DISCORD_ISSUER is required"),
        ({"IDP_OIDC_PROVIDERS": "google"}, "built-in provider id"),
        ({"IDP_OIDC_PROVIDERS": "Bad!"}, "lower-case"),
        ({"IDP_KEY_ENCRYPTION_KEY": ""}, "IDP_KEY_ENCRYPTION_KEY is required"),
        ({"IDP_KEY_ENCRYPTION_KEY": "too-short"}, "must be 32 random bytes"),
        ({"IDP_KEY_ENCRYPTION_KEY": "dev-kek-" + KEK}, "development key"),
        ({"IDP_PREVIOUS_KEY_ENCRYPTION_KEYS": "nope"}, "IDP_PREVIOUS_KEY_ENCRYPTION_KEYS must be"),
        ({"IDP_SIGNING_ALG": "HS256"}, "IDP_SIGNING_ALG must be one of"),
        ({"IDP_KEYS_REFRESH_INTERVAL": "61"}, "at most 60"),
    ],
)
def test_unsafe_or_malformed_settings_are_refused_with_a_reason(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(base_env(**change), instance_path=str(tmp_path))


def test_production_on_localhost_may_use_http_for_local_trials(tmp_path: Path) -> None:
    settings = load_settings(
        base_env(IDP_BASE_URL="http://localhost:8000"), instance_path=str(tmp_path)
    )
    assert not settings.secure_cookies


def test_development_defaults_to_sqlite_and_the_dev_connector(tmp_path: Path) -> None:
    settings = load_settings(
        {"IDP_SECRET_KEY": SECRET, "IDP_KEY_ENCRYPTION_KEY": KEK}, instance_path=str(tmp_path)
    )
    assert settings.env == "development"
    assert settings.database_url == f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    assert [p.id for p in settings.providers] == ["dev"]


def test_a_generic_oidc_provider_needs_only_configuration(tmp_path: Path) -> None:
    settings = load_settings(
        base_env(
            IDP_OIDC_PROVIDERS="discord, microsoft",
            IDP_OIDC_DISCORD_ISSUER="https://discord.com",
            IDP_OIDC_DISCORD_CLIENT_ID="d-id",
            IDP_OIDC_DISCORD_CLIENT_SECRET="d-secret",
            IDP_OIDC_DISCORD_SCOPES="openid identify email",
            IDP_OIDC_MICROSOFT_ISSUER="https://login.microsoftonline.com/tid/v2.0",
            IDP_OIDC_MICROSOFT_CLIENT_ID="m-id",
            IDP_OIDC_MICROSOFT_CLIENT_SECRET="m-secret",
            IDP_OIDC_MICROSOFT_AUTH_METHOD="client_secret_post",
            IDP_OIDC_MICROSOFT_NAME="Microsoft",
        ),
        instance_path=str(tmp_path),
    )
    discord, microsoft = settings.providers
    assert (discord.id, discord.kind, discord.name) == ("discord", "oidc", "Discord")
    assert discord.scopes == ("openid", "identify", "email")
    assert discord.trust_email is False
    assert microsoft.auth_method == "client_secret_post"
    assert microsoft.name == "Microsoft"


def test_google_and_twitch_defaults(tmp_path: Path) -> None:
    settings = load_settings(
        base_env(
            IDP_GOOGLE_CLIENT_ID="g",
            IDP_GOOGLE_CLIENT_SECRET="gs",
            IDP_TWITCH_CLIENT_ID="t",
            IDP_TWITCH_CLIENT_SECRET="ts",
        ),
        instance_path=str(tmp_path),
    )
    google, twitch = settings.providers
    assert google.issuer == "https://accounts.google.com"
    assert google.trust_email and google.pkce
    assert twitch.issuer == "https://id.twitch.tv/oauth2"
    assert twitch.auth_method == "client_secret_post"
    assert not twitch.pkce and not twitch.trust_email
    assert "user:read:email" in twitch.scopes


def test_secrets_do_not_appear_in_the_settings_repr(tmp_path: Path) -> None:
    settings = load_settings(
        base_env(IDP_GOOGLE_CLIENT_ID="g", IDP_GOOGLE_CLIENT_SECRET="google-secret-value"),
        instance_path=str(tmp_path),
    )
    assert SECRET not in repr(settings)
    assert "google-secret-value" not in repr(settings)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"IDP_BASE_URL": "https://chat.example/auth"}, "without a path"),
        ({"IDP_UPSTREAM_TIMEOUT": "0"}, "between 0.1 and 120"),
        ({"IDP_UPSTREAM_TIMEOUT": "soon"}, "number of seconds"),
        (
            {
                "IDP_OIDC_PROVIDERS": "a-b a_b",
                "IDP_OIDC_A_B_ISSUER": "https://x.example",
                "IDP_OIDC_A_B_CLIENT_ID": "x",
                "IDP_OIDC_A_B_CLIENT_SECRET": "y",
            },
            "listed twice",
        ),
    ],
)
def test_ambiguous_settings_are_refused(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(base_env(**change), instance_path=str(tmp_path))


def test_the_upstream_timeout_accepts_fractions(tmp_path: Path) -> None:
    settings = load_settings(base_env(IDP_UPSTREAM_TIMEOUT="2.5"), instance_path=str(tmp_path))
    assert settings.upstream_timeout == 2.5
