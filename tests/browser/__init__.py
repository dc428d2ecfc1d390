"""Browser tests: the customer panel driven by Playwright on Debian's headless chromium."""
