"""Cross-cutting security rules: origins, redirect targets, secret hashing and signing.

Everything here is a pure function of its arguments, unit-tested without an app.
"""
