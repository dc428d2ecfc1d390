"""The owner hears about trouble first: alerts recorded once, delivered batched by mail and Telegram; announcements."""
