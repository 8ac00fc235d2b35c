"""The people room of the web floor."""
