"""Evaluation scripts (run against the shared evaluation data, never part of the service)."""
