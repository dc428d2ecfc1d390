"""The demo catalog and accounts seeded by `smmpanel demo`."""
