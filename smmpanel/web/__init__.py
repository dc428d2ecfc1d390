"""The customer panel: pages people use in a browser (the API is for scripts)."""
