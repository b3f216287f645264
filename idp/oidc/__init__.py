"""Our OpenID provider: discovery, authorization, token, userinfo, revocation, introspection,
logout; for embeds and third-party services."""
