"""The media room of the web floor."""
