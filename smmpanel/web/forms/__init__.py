"""The customer panel's forms, one module per page group (order.py: new and mass orders; account.py: accounts)."""
