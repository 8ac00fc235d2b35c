"""The Litestar app: JSON API under /api, the HTML admin, auth, guards, templates, translations."""
