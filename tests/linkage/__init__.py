"""Tests of record linkage: pseudonyms, PSI, Bloom-filter linkage."""
