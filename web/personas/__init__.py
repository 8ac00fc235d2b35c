"""The personas room of the web floor."""
