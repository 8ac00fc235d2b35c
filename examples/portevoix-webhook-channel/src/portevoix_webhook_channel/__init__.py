"""Porte-voix webhook channel: posts delivered as HMAC-signed JSON requests to an endpoint.

An example of a third-party channel plugin, found by Porte-voix through the
``portevoix.channels`` entry point ``webhook``.
"""

from portevoix_webhook_channel.channel import WebhookChannel, signature

__all__ = ["WebhookChannel", "signature"]
__version__ = "0.1.0"
