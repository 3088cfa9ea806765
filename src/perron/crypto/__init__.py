"""Signing, sealed boxes, the audit log and replay protection (PyNaCl / libsodium only).

Security assumptions: the hub distributes public keys honestly (a later issue pins
keys in the signed study policy); libsodium's Ed25519 signatures and X25519 sealed
boxes are secure; private keys stay on the machine that generated them.
"""
