"""Record linkage across data holders, without exchanging identities.

Pseudonyms from the BSN (keyed, per study, double pseudonymisation through a
trusted third party), private set intersection between stations (ECDH on
ristretto255), and Bloom-filter (CLK) linkage for records without a BSN. This
package is pure: stations run it on their own data; only pseudonyms, blinded group
elements or encodings ever leave a holder, and only as its protocols allow.
"""
