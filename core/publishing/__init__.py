"""Publishing: compose, approve, schedule (compose.py), then the outbox (outbox.py) and its jobs."""
