"""The inbox room of the web floor: the screens, the API and the webhook routes."""
