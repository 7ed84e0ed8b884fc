"""The merchant API (`personalize api`): part of core, reading core's store and sending it commands (docs/merchant-api.md)."""
