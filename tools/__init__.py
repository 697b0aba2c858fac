"""Command-line helpers for setting up and maintaining the project (not imported by the app)."""
