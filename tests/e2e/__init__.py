"""Browser tests in headless Chromium against a live server."""
