"""Domain services: every change to the domain goes through one of these, and is audited."""
