"""The security headers of every response, by endpoint (pure)."""

from __future__ import annotations

BASELINE: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
)

# The sign-in path runs in popups opened by embeds on other origins: cutting the opener there
# would strand them. Everywhere else, isolate.
POPUP_ENDPOINTS = frozenset(
    {
        "oidc.authorization_endpoint",
        "oidc.chooser",
        "oidc.chooser_submit",
        "oidc.consent",
        "api.callback",
        "api.dev_sign_in_page",
        "api.dev_sign_in",
    }
)


def security_headers(endpoint: str | None) -> tuple[tuple[str, str], ...]:
    """Defaults for a response of ``endpoint``: a view may have set its own already."""
    opener = "unsafe-none" if endpoint in POPUP_ENDPOINTS else "same-origin"
    return (*BASELINE, ("Cross-Origin-Opener-Policy", opener))
