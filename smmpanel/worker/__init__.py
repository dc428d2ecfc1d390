"""The background worker: a loop that claims due orders and refills and advances them."""
