"""People: staff, their API tokens, their assignments to personas, and what each role may do."""
