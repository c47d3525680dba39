"""oauthlib grants Canopy adds to the token endpoint (registered by ``idp.oidc.server.CanopyServer``)."""
