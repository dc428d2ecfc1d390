"""Orders, subscriptions and refills, and the services that place, cancel, refill and settle them."""
