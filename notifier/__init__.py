"""Notifier: issues personalization links and emails the merchant (notifier issue)."""
