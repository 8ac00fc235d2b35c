"""Accounts: a persona's presence on a channel, connected through the plugin's OAuth flow."""
