"""Alert emails: subscriptions, an outbox filled in the article's transaction, and a retrying SMTP sender."""
