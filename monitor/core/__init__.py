"""The core every layer uses: settings, errors, logging, metrics, progress."""
