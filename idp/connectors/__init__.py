"""Upstream sign-in providers: one interface, one module per provider, and a dev connector."""
