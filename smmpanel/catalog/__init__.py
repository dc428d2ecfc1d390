"""The catalog: categories, services, and the 16 API v2 order types."""
