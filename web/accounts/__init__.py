"""The accounts room of the web floor."""
