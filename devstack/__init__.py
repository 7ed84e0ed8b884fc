"""Dev tooling, run from a checkout and kept out of the wheel: the embedded broker, Redis and mail catcher,
`dev` (the whole system on one machine), its demo orders, and the generated event docs."""
