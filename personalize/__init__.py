"""Plumbing every deployable shares: settings, config, Kafka and Redis clients, the consume loop,
the embedded broker/Redis launcher and the `personalize` command line. Imports no service,
except the command line and `dev`, which start them."""
