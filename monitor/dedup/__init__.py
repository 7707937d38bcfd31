"""Deduplication: exact keys (canonical URL, the 16-hex content hash id) and near-duplicate stories (MinHash)."""
