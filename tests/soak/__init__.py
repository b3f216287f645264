"""A bounded soak of a live server: run ``python -m tests.soak.soak`` (see README.md)."""
