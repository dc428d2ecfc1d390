"""Reselling: upstream provider panels, the services imported from them, and the engine forwarding orders."""
