"""Usage: the JSON API, the CSV files and the admin page of a persona's figures (core.usage)."""
