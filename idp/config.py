"""Settings: documented defaults, read from ``IDP_*`` environment variables, validated at start.

Every setting is described in ``docs/configuration.md``. :func:`load_settings` is a pure function
of the environment mapping it is given, so tests build settings the same way production does.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from idp.security.origins import is_loopback_host, origin_of

PREFIX = "IDP_"
DEV_SECRET_PREFIX = "dev-insecure-"  # noqa: S105  (a name, not a secret)
DEV_KEK_PREFIX = "dev-kek-"
PROJECT_ROOT = Path(__file__).resolve().parent.parent

Environment = Literal["development", "production"]
SigningAlg = Literal["RS256", "ES256", "EdDSA"]
SIGNING_ALGS: tuple[SigningAlg, ...] = ("RS256", "ES256", "EdDSA")
MAX_KEYS_REFRESH_INTERVAL = 60
_RATE = re.compile(r"^\d+/(second|minute|hour|day)(;\d+/(second|minute|hour|day))*$")
ProviderKind = Literal["google", "twitch", "oidc", "dev"]
ClientAuthMethod = Literal["client_secret_basic", "client_secret_post"]


class ConfigError(ValueError):
    """A setting is missing, malformed, or unsafe for the environment; the message says which."""


@dataclass(frozen=True)
class ProviderSettings:
    """One upstream sign-in provider."""

    id: str
    kind: ProviderKind
    name: str
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    issuer: str = ""
    scopes: tuple[str, ...] = ()
    auth_method: ClientAuthMethod = "client_secret_basic"
    pkce: bool = True
    # Emails from this provider may be used to link a new account to an existing user.
    trust_email: bool = False
    # Google only: the Workspace domain a user must belong to (checked on the `hd` claim).
    hosted_domain: str | None = None


@dataclass(frozen=True)
class Settings:
    env: Environment
    base_url: str
    database_url: str
    secret_key: str = field(repr=False)
    trusted_origins: tuple[str, ...] = ()
    cookie_domain: str | None = None
    cookie_prefix: str = "better-auth"
    session_expires_in: int = 7 * 24 * 3600
    session_update_age: int = 24 * 3600
    # Sessions older than this may not list sessions or unlink accounts (0 disables the rule).
    session_fresh_age: int = 24 * 3600
    state_ttl: int = 600
    upstream_timeout: float = 10.0
    max_body_bytes: int = 64 * 1024
    providers: tuple[ProviderSettings, ...] = ()
    # Signing keys: the key-encryption key that protects them at rest (32 bytes, base64url),
    # older ones that still decrypt until `flask keys rewrap`, and how they are published.
    key_encryption_key: str = field(default="", repr=False)
    previous_key_encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    signing_alg: SigningAlg = "RS256"
    jwks_max_age: int = 300
    keys_refresh_interval: int = 30
    # The session JWT of GET /api/auth/token.
    jwt_ttl: int = 900
    jwt_audience: str = ""
    # Our OpenID provider.
    id_token_ttl: int = 3600
    access_token_ttl: int = 3600
    refresh_token_ttl: int = 30 * 24 * 3600
    code_ttl: int = 60
    # A spent refresh token presented again within this many seconds, by the same client, gets
    # a new pair (two tabs refreshing at once); after it, reuse revokes the whole grant.
    refresh_reuse_grace: int = 10
    # Operations.
    redis_url: str | None = field(default=None, repr=False)
    rate_limits: bool = True
    rate_limit_sign_in: str = "10/minute;100/hour"
    rate_limit_callback: str = "30/minute"
    rate_limit_token: str = "120/minute"  # noqa: S105  (a rate, not a secret)
    rate_limit_account: str = "60/minute"
    metrics_token: str = field(default="", repr=False)
    metrics_public: bool = False
    db_pool_size: int = 5
    db_max_overflow: int = 10
    log_level: str = "INFO"
    # How many reverse proxies in front of us set X-Forwarded-For / -Proto (0: trust none).
    proxy_count: int = 0
    # Where the state of a development install lives (SQLite file, generated secrets).
    instance_path: str = str(PROJECT_ROOT / "instance")

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def base_origin(self) -> str:
        return origin_of(self.base_url) or ""

    @property
    def all_trusted_origins(self) -> frozenset[str]:
        return frozenset((self.base_origin, *self.trusted_origins))

    @property
    def max_token_lifetime(self) -> int:
        """The longest a token we sign stays valid: how long a retired key must stay published."""
        return max(self.jwt_ttl, self.id_token_ttl)

    @property
    def min_publish_time(self) -> int:
        """How long a ``next`` key must be published before it may sign: until every worker
        serves it, plus the time a verifier may cache the key set."""
        return self.keys_refresh_interval + self.jwks_max_age

    def provider(self, provider_id: str) -> ProviderSettings | None:
        return next((p for p in self.providers if p.id == provider_id), None)

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name} must be a boolean (true/false), got {value!r}")


def _int(value: str, name: str, *, minimum: int = 1) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    return number


def _seconds(value: str, name: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}") from None
    if not 0.1 <= seconds <= 120:
        raise ConfigError(f"{name} must be between 0.1 and 120 seconds, got {value!r}")
    return seconds


def _list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.replace(",", " ").split() if item.strip())


class _Env:
    """Reads ``IDP_``-prefixed variables from a mapping."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def get(self, name: str, default: str = "") -> str:
        return self._environ.get(PREFIX + name, default).strip()

    def has(self, name: str) -> bool:
        return bool(self.get(name))

    def flag(self, name: str, default: bool) -> bool:
        raw = self._environ.get(PREFIX + name)
        return default if raw is None else _bool(raw, PREFIX + name)

    def number(self, name: str, default: int, *, minimum: int = 1) -> int:
        raw = self.get(name)
        return default if not raw else _int(raw, PREFIX + name, minimum=minimum)


def _auth_method(value: str, name: str) -> ClientAuthMethod:
    if value == "client_secret_basic":
        return "client_secret_basic"
    if value == "client_secret_post":
        return "client_secret_post"
    raise ConfigError(f"{name} must be client_secret_basic or client_secret_post, got {value!r}")


def _providers(env: _Env, environment: Environment) -> tuple[ProviderSettings, ...]:
    providers: list[ProviderSettings] = []
    if env.has("GOOGLE_CLIENT_ID"):
        providers.append(
            ProviderSettings(
                id="google",
                kind="google",
                name="Google",
                client_id=env.get("GOOGLE_CLIENT_ID"),
                client_secret=env.get("GOOGLE_CLIENT_SECRET"),
                issuer=env.get("GOOGLE_ISSUER", "https://accounts.google.com"),
                scopes=_list(env.get("GOOGLE_SCOPES", "openid email profile")),
                auth_method="client_secret_basic",
                trust_email=env.flag("GOOGLE_TRUST_EMAIL", True),
                hosted_domain=env.get("GOOGLE_HOSTED_DOMAIN") or None,
            )
        )
    if env.has("TWITCH_CLIENT_ID"):
        providers.append(
            ProviderSettings(
                id="twitch",
                kind="twitch",
                name="Twitch",
                client_id=env.get("TWITCH_CLIENT_ID"),
                client_secret=env.get("TWITCH_CLIENT_SECRET"),
                issuer=env.get("TWITCH_ISSUER", "https://id.twitch.tv/oauth2"),
                scopes=_list(env.get("TWITCH_SCOPES", "openid user:read:email")),
                auth_method="client_secret_post",
                # Twitch does not implement PKCE; state and nonce protect the flow.
                pkce=False,
                trust_email=env.flag("TWITCH_TRUST_EMAIL", False),
            )
        )
    seen_keys: set[str] = set()
    for provider_id in _list(env.get("OIDC_PROVIDERS")):
        key = provider_id.upper().replace("-", "_")
        if key in seen_keys:
            raise ConfigError(
                f"IDP_OIDC_PROVIDERS: {provider_id!r} is listed twice (or clashes with another "
                f"id on its IDP_OIDC_{key}_* variables)"
            )
        seen_keys.add(key)
        if (
            not provider_id.replace("-", "").replace("_", "").isalnum()
            or provider_id != provider_id.lower()
        ):
            raise ConfigError(
                f"IDP_OIDC_PROVIDERS: {provider_id!r} must be lower-case letters, digits, - or _"
            )
        if provider_id in {"google", "twitch", "dev"}:
            raise ConfigError(f"IDP_OIDC_PROVIDERS: {provider_id!r} is a built-in provider id")
        for required in ("ISSUER", "CLIENT_ID"):
            if not env.has(f"OIDC_{key}_{required}"):
                raise ConfigError(
                    f"IDP_OIDC_{key}_{required} is required for provider {provider_id!r}"
                )
        providers.append(
            ProviderSettings(
                id=provider_id,
                kind="oidc",
                name=env.get(f"OIDC_{key}_NAME", provider_id.capitalize()),
                client_id=env.get(f"OIDC_{key}_CLIENT_ID"),
                client_secret=env.get(f"OIDC_{key}_CLIENT_SECRET"),
                issuer=env.get(f"OIDC_{key}_ISSUER"),
                scopes=_list(env.get(f"OIDC_{key}_SCOPES", "openid email profile")),
                auth_method=_auth_method(
                    env.get(f"OIDC_{key}_AUTH_METHOD", "client_secret_basic"),
                    f"IDP_OIDC_{key}_AUTH_METHOD",
                ),
                pkce=env.flag(f"OIDC_{key}_PKCE", True),
                trust_email=env.flag(f"OIDC_{key}_TRUST_EMAIL", False),
            )
        )
    if env.flag("DEV_CONNECTOR", environment == "development"):
        providers.append(ProviderSettings(id="dev", kind="dev", name="Development sign-in"))
    return tuple(providers)


def load_settings(environ: Mapping[str, str], *, instance_path: str | None = None) -> Settings:
    """Build and validate settings from an environment mapping.

    In development, a missing secret key is generated into ``keys/`` on first start (see
    :func:`ensure_dev_secret`); in production every secret must come from the environment.
    """
    env = _Env(environ)
    raw_env = env.get("ENV", "development")
    if raw_env not in ("development", "production"):
        raise ConfigError(f"IDP_ENV must be development or production, got {raw_env!r}")
    environment: Environment = "production" if raw_env == "production" else "development"
    instance = instance_path or env.get("INSTANCE_PATH") or str(PROJECT_ROOT / "instance")

    database_url = env.get("DATABASE_URL")
    if not database_url:
        if environment == "production":
            raise ConfigError("IDP_DATABASE_URL is required in production")
        database_url = f"sqlite:///{Path(instance) / 'idp.sqlite3'}"

    database_url = normalize_database_url(database_url)

    secret_key = env.get("SECRET_KEY")
    if not secret_key and environment == "development":
        secret_key = ensure_dev_secret(PROJECT_ROOT / "keys" / "dev-secret-key")
    kek = env.get("KEY_ENCRYPTION_KEY")
    if not kek and environment == "development":
        kek = ensure_dev_secret(PROJECT_ROOT / "keys" / "dev-key-encryption-key", generate=_dev_kek)
    signing_alg = env.get("SIGNING_ALG", "RS256")
    if signing_alg not in SIGNING_ALGS:
        raise ConfigError(
            f"IDP_SIGNING_ALG must be one of {', '.join(SIGNING_ALGS)}, got {signing_alg!r}"
        )
    base_url = env.get("BASE_URL", f"http://127.0.0.1:{environ.get('PORT', '8000')}").rstrip("/")
    if urlsplit(base_url).path in ("", "/"):
        base_url = _normalized_origin(base_url)

    settings = Settings(
        env=environment,
        # Default: where `make run` serves (gunicorn.conf.py binds to $PORT, 8000 by default).
        base_url=base_url,
        database_url=database_url,
        secret_key=secret_key,
        trusted_origins=tuple(o.rstrip("/") for o in _list(env.get("TRUSTED_ORIGINS"))),
        cookie_domain=env.get("COOKIE_DOMAIN") or None,
        cookie_prefix=env.get("COOKIE_PREFIX", "better-auth"),
        session_expires_in=env.number("SESSION_EXPIRES_IN", 7 * 24 * 3600, minimum=60),
        session_update_age=env.number("SESSION_UPDATE_AGE", 24 * 3600, minimum=0),
        session_fresh_age=env.number("SESSION_FRESH_AGE", 24 * 3600, minimum=0),
        state_ttl=env.number("STATE_TTL", 600, minimum=30),
        upstream_timeout=_seconds(env.get("UPSTREAM_TIMEOUT", "10"), "IDP_UPSTREAM_TIMEOUT"),
        max_body_bytes=env.number("MAX_BODY_BYTES", 64 * 1024, minimum=1024),
        providers=_providers(env, environment),
        proxy_count=env.number("PROXY_COUNT", 0, minimum=0),
        redis_url=env.get("REDIS_URL") or None,
        rate_limits=env.flag("RATE_LIMITS", True),
        rate_limit_sign_in=env.get("RATE_LIMIT_SIGN_IN", "10/minute;100/hour"),
        rate_limit_callback=env.get("RATE_LIMIT_CALLBACK", "30/minute"),
        rate_limit_token=env.get("RATE_LIMIT_TOKEN", "120/minute"),
        rate_limit_account=env.get("RATE_LIMIT_ACCOUNT", "60/minute"),
        metrics_token=env.get("METRICS_TOKEN"),
        metrics_public=env.flag("METRICS_PUBLIC", False),
        db_pool_size=env.number("DB_POOL_SIZE", 5),
        db_max_overflow=env.number("DB_MAX_OVERFLOW", 10, minimum=0),
        log_level=env.get("LOG_LEVEL", "INFO").upper(),
        key_encryption_key=kek,
        previous_key_encryption_keys=_list(env.get("PREVIOUS_KEY_ENCRYPTION_KEYS")),
        signing_alg=signing_alg,
        jwks_max_age=env.number("JWKS_MAX_AGE", 300, minimum=0),
        keys_refresh_interval=env.number("KEYS_REFRESH_INTERVAL", 30),
        jwt_ttl=env.number("JWT_TTL", 900, minimum=30),
        id_token_ttl=env.number("ID_TOKEN_TTL", 3600, minimum=60),
        access_token_ttl=env.number("ACCESS_TOKEN_TTL", 3600, minimum=60),
        refresh_token_ttl=env.number("REFRESH_TOKEN_TTL", 30 * 24 * 3600, minimum=300),
        code_ttl=env.number("CODE_TTL", 60, minimum=10),
        refresh_reuse_grace=env.number("REFRESH_REUSE_GRACE", 10, minimum=0),
        jwt_audience=env.get("JWT_AUDIENCE") or origin_of(base_url) or base_url,
        instance_path=instance,
    )
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    """Refuse malformed settings everywhere, and development conveniences in production."""
    base = urlsplit(settings.base_url)
    if base.scheme not in ("http", "https") or not base.hostname or base.query or base.fragment:
        raise ConfigError(
            f"IDP_BASE_URL must be an absolute http(s) URL, got {settings.base_url!r}"
        )
    if base.path not in ("", "/"):
        raise ConfigError(
            "IDP_BASE_URL must be an origin (scheme://host[:port]) without a path: "
            f"the API lives at /api/auth on it, got {settings.base_url!r}"
        )
    for origin in settings.trusted_origins:
        if origin_of(origin) != origin:
            raise ConfigError(
                f"IDP_TRUSTED_ORIGINS: {origin!r} is not an origin (scheme://host[:port], no path)"
            )
    if not settings.secret_key:
        raise ConfigError("IDP_SECRET_KEY is required")
    if len(settings.secret_key) < 32:
        raise ConfigError("IDP_SECRET_KEY must be at least 32 characters of random data")
    for name, kek in (
        ("IDP_KEY_ENCRYPTION_KEY", settings.key_encryption_key),
        *(("IDP_PREVIOUS_KEY_ENCRYPTION_KEYS", k) for k in settings.previous_key_encryption_keys),
    ):
        if not kek:
            raise ConfigError(f"{name} is required (32 random bytes, base64url-encoded)")
        if decode_key_encryption_key(kek) is None:
            raise ConfigError(f"{name} must be 32 random bytes, base64url-encoded (43 characters)")
    if settings.keys_refresh_interval > MAX_KEYS_REFRESH_INTERVAL:
        raise ConfigError(
            f"IDP_KEYS_REFRESH_INTERVAL must be at most {MAX_KEYS_REFRESH_INTERVAL} seconds: "
            "it bounds how long a worker may sign with a rotated or revoked key"
        )
    for name, limit in (
        ("IDP_RATE_LIMIT_SIGN_IN", settings.rate_limit_sign_in),
        ("IDP_RATE_LIMIT_CALLBACK", settings.rate_limit_callback),
        ("IDP_RATE_LIMIT_TOKEN", settings.rate_limit_token),
        ("IDP_RATE_LIMIT_ACCOUNT", settings.rate_limit_account),
    ):
        if not _RATE.fullmatch(limit):
            raise ConfigError(
                f"{name} must look like '10/minute' or '10/minute;100/hour', got {limit!r}"
            )
    if settings.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(
            f"IDP_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {settings.log_level!r}"
        )
    if settings.redis_url and not settings.redis_url.startswith(("redis://", "rediss://")):
        raise ConfigError("IDP_REDIS_URL must be a redis:// or rediss:// URL")
    if settings.session_update_age >= settings.session_expires_in:
        raise ConfigError("IDP_SESSION_UPDATE_AGE must be shorter than IDP_SESSION_EXPIRES_IN")
    if settings.cookie_domain is not None:
        domain = settings.cookie_domain.lstrip(".")
        if "." not in domain:
            raise ConfigError(
                f"IDP_COOKIE_DOMAIN {settings.cookie_domain!r} is a single label: browsers drop "
                "such cookies (use a registrable domain such as example.com)"
            )
        host = base.hostname
        if host != domain and not host.endswith("." + domain):
            raise ConfigError(
                f"IDP_COOKIE_DOMAIN {settings.cookie_domain!r} does not cover the host of "
                f"IDP_BASE_URL ({host}); the browser would drop the session cookie"
            )
    for provider in settings.providers:
        if provider.kind != "dev" and not provider.client_secret:
            raise ConfigError(f"provider {provider.id!r}: its CLIENT_SECRET is required")

    if not settings.is_production:
        return
    if settings.secret_key.startswith(DEV_SECRET_PREFIX):
        raise ConfigError(
            "IDP_SECRET_KEY is a development secret; generate a new one for production"
        )
    if settings.key_encryption_key.startswith(DEV_KEK_PREFIX):
        raise ConfigError(
            "IDP_KEY_ENCRYPTION_KEY is a development key; generate one for production "
            "(flask keys new-kek) and keep it in your secret store"
        )
    if base.scheme != "https" and not is_loopback_host(base.hostname):
        raise ConfigError(f"IDP_BASE_URL must use https in production, got {settings.base_url!r}")
    if any(p.kind == "dev" for p in settings.providers):
        raise ConfigError(
            "the development sign-in connector (IDP_DEV_CONNECTOR) is refused in production"
        )
    if settings.database_url.startswith("sqlite") and ":memory:" in settings.database_url:
        raise ConfigError(
            "an in-memory database loses every session on restart; refused in production"
        )


def _normalized_origin(url: str) -> str:
    """``IDP_BASE_URL`` as its canonical origin, so that iss, aud and redirects agree."""
    return origin_of(url) or url


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the operator gave."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def generate_key_encryption_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


def _dev_kek() -> str:
    return DEV_KEK_PREFIX + generate_key_encryption_key()


def decode_key_encryption_key(value: str) -> bytes | None:
    """The 32 bytes of a key-encryption key, or None when it is not one.

    A development key carries a ``dev-kek-`` marker before its base64url text.
    """
    text = value.removeprefix(DEV_KEK_PREFIX)
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        return None
    return raw if len(raw) == 32 else None


def ensure_dev_secret(path: Path, *, generate: Callable[[], str] | None = None) -> str:
    """Return the development secret stored at ``path``, generating it on first use.

    Its ``dev-`` prefix marks it so that production refuses it.
    """
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = generate() if generate else DEV_SECRET_PREFIX + secrets.token_urlsafe(48)
    try:
        with path.open("x") as handle:  # "x": two workers starting at once keep one secret
            handle.write(secret + "\n")
    except FileExistsError:
        return path.read_text().strip()
    path.chmod(0o600)
    return secret
