"""The publishing room of the web floor."""
