"""The gateway kinds, one module each (the table of them is smmpanel/payments/registry.py)."""
