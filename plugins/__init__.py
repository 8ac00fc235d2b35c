"""Built-in channel plugins (``plugins.channels``) and the testing kit for plugin authors (``plugins.testing``)."""
