"""What every deployable shares: settings, config, Kafka and Redis clients, the consume loop, dead letters,
logs, metrics, the ops server and the service lifecycle. Imports `schemas` and nothing else of ours."""
