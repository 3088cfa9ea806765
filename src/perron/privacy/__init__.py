"""Disclosure control: the holder's policy and the rules a station applies."""
