"""Alert emails: subscriptions, an outbox filled in the article's transaction, and a retrying SMTP sender."""

# monitor.config imports this package's settings once it has defined their base class: load it first.
import monitor.config  # noqa: F401
