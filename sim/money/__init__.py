"""Who pays what: insurance policy, the ledger's postings, clearing."""
