"""Secure computation between stations: correlated randomness and masked products."""
