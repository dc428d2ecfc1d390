"""The customer panel's views, one module per page group (auth, orders, new order, funds, API key, services)."""
