"""Built-in channel plugins, one module per network, each registered through the ``portevoix.channels`` entry point."""
