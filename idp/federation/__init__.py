"""Upstream identity providers: domain routing, JIT provisioning, account linking."""
