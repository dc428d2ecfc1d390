"""Customers: the profile beside Django's user, its balance and its API key."""
