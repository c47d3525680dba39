"""The management REST API, per tenant under /t/<slug>/api/."""
