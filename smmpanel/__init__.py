"""smmpanel: an SMM reseller panel speaking the standard API v2."""
