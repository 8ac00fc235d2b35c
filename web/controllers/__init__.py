"""Route handlers: ``api_*`` modules serve JSON under /api/v1, ``admin_*`` modules serve the HTML admin."""
