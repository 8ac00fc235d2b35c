"""Media: uploads checked, stored by sha256 per persona, with alt text; signed URLs for networks."""
