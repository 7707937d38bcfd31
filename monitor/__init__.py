"""monitor: a news-monitoring service for the Russia-Ukraine war and UK defence statements."""

__version__ = "0.1.0"
