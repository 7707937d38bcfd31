"""The running service: wiring (settings → database → store → pipeline), the daemon, its health and ops endpoint."""
