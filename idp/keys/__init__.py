"""Signing keys: encrypted at rest, published before they sign, demoted rather than deleted."""
