"""Errors with names, raised where detected and turned into a status code or a dead letter at the edge."""


class InvalidSignatureError(Exception):
    """The webhook's signature is missing, malformed, stale or wrong: answer 401, publish nothing."""


class UnknownStoreError(Exception):
    """No store of this platform with that id in the config: answer 404."""


class UnreadableWebhookError(Exception):
    """A verified webhook body we cannot read: dead-letter it and answer 2xx so the platform keeps the hook."""


class RefusedOrderIdError(UnreadableWebhookError):
    """A verified webhook names its order by something that is not the platform's kind of id (`../../x`):
    nothing is fetched; dead-letter it and answer 400."""


class UnmappableOrderError(Exception):
    """A platform order we cannot turn into an OrderReceived: dead-letter it with the reason."""


class PlatformError(Exception):
    """The platform answered a request with an error we do not retry (4xx other than 429)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GrantRevokedError(Exception):
    """The platform says the store's grant is gone (`invalid_grant` on a refresh, a key that answers 401 for
    good, an uninstall): the store must be disconnected and the merchant told; retrying cannot help."""
