"""The API v2 server: POST /api/v2 with key + action, answering JSON exactly as the reference shows."""
