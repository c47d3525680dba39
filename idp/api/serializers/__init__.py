"""The management API's shapes, one module per resource. Validation of content stays in the services."""
