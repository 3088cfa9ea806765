"""Tests of the catalogue (perron.catalogue) and of its station, hub and CLI sides."""
