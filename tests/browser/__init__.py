"""Journeys in a real browser (Chromium, driven by Playwright) through the examples."""
