"""Observe: what stands in the buckets, listed through ``Storage``, checked against what the ledger records."""
