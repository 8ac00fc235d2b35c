"""The inbox: what the networks send a persona, kept once, answered on time, moderated on the record."""
