"""The account page: a signed-in user's own profile, passkeys, sessions and linked accounts."""
