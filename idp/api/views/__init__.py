"""The management API's views, one module per resource (URLs in ``idp.api.urls``)."""
