"""Federated algorithms: ``base`` holds the interface and round loop, one module each."""
