"""The OpenID Provider, on django-oauth-toolkit, one issuer per tenant."""
