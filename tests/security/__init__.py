"""Hostile input and faults: properties, open redirects, token attacks, CSRF, log hygiene."""
