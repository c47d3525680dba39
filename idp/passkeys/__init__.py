"""Passkeys (WebAuthn): registration, username-less sign-in and a second factor."""
