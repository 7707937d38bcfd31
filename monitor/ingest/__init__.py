"""Ingestion, stage by stage: fetch (network guard, decoding) → parse feeds (discovery, OPML) → extract → process
(dedup keys, near-duplicate signature, tags) → the pipeline that stores what it found; the seed corpus import."""
