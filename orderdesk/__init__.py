"""The `orderdesk` command: the one place that wires core, bot and webhooks together."""
