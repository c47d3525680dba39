"""The SAML 2.0 Identity Provider, one per tenant."""
