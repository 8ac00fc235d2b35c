"""Faithful fake network servers for the built-in channel plugins, one module per network."""
