"""The web interface and JSON API (FastAPI, server-rendered Jinja2 pages, no script, no external requests)."""
