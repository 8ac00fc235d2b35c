"""Deliberately broken channel plugins, reached only through EntryPoint objects built in tests.

Nothing here is installed: the registry tests point ``importlib.metadata.EntryPoint``s at
these modules so that the rest of the suite never sees them.
"""
