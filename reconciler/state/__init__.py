"""State: the ledger (its in-memory index and file format), the store, blobs, locks and the journal."""
