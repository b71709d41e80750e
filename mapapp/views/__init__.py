"""One blueprint per concern: pages (people), api (machines)."""
