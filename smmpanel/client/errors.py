"""What the API v2 client raises: one base class and three ways a call can fail.

The caller's question after a failure is "may I send this again?", so the
split follows that question:

- ``TransportError``: no usable HTTP answer. ``sent`` says whether the panel may
  have received the request (an ``add`` that may have been received must not be
  blindly repeated; one that surely was not is safe to retry).
- ``ApiError``: the panel answered and refused, ``{"error": "..."}``.
- ``BadResponse``: the panel answered something the protocol does not allow
  (an HTML error page, invalid JSON, a list where an object belongs ...).

Messages never contain the API key: the client scrubs it from anything a
panel echoes back before an exception is built.
"""


class ClientError(Exception):
    """Base of everything the client raises on purpose."""


class TransportError(ClientError):
    """No usable HTTP answer: DNS, connect, timeout, a dropped connection, a protocol violation."""

    def __init__(self, message: str, *, sent: bool):
        super().__init__(message)
        self.message = message
        self.sent = sent

    def __repr__(self) -> str:
        return f"TransportError({self.message!r}, sent={self.sent})"


class ApiError(ClientError):
    """The panel answered ``{"error": "..."}`` (with any HTTP status), or refused one id of a multi call."""

    def __init__(self, message: str, status_code: int = 200):
        super().__init__(message)
        self.message = message
        self.status_code = status_code

    def __repr__(self) -> str:
        return f"ApiError({self.message!r}, status_code={self.status_code})"

    def __eq__(self, other: object) -> bool:
        # Results of multi calls hold ApiError values; comparing them by content keeps tests and callers simple.
        if not isinstance(other, ApiError):
            return NotImplemented
        return (self.message, self.status_code) == (other.message, other.status_code)

    def __hash__(self) -> int:
        return hash((self.message, self.status_code))


class BadResponse(ClientError):
    """An answer we cannot read as the protocol says; ``text`` is the first 500 characters of the body."""

    def __init__(self, message: str, *, status_code: int, text: str):
        super().__init__(f"{message} (HTTP {status_code})")
        self.message = message
        self.status_code = status_code
        self.text = text[:500]

    def __repr__(self) -> str:
        return f"BadResponse({self.message!r}, status_code={self.status_code})"
