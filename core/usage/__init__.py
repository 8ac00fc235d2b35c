"""Usage: what each persona published, spent and received, and how hard its team worked."""
