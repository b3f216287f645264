"""The first-party session: issue, read, slide, revoke, and the cookie that carries it."""
