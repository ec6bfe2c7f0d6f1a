"""The API reference: routes declared once (to register them and to describe them), and the
OpenAPI document generated from those declarations, served at /api/openapi.json."""
