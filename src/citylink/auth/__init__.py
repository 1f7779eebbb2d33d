"""Credentials: agency API keys, and the signing key behind grant tokens."""
