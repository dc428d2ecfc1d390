"""One overall deadline for a whole request: connect, send, wait and read, whatever the server's pace.

httpx's timeouts bound each socket operation, not the request: a server that
sends one byte every few seconds (in its headers or its body) never lets a
read time out, and holds the caller for as long as it likes. Here each socket
operation of a request gets at most the time left until the request's
deadline, so the request ends by then, on time, with httpx's own timeout
exceptions (ConnectTimeout before anything was sent, WriteTimeout/ReadTimeout
after).

The deadline is set around a request with `until(...)` (a context variable:
the request runs in the caller's thread) and read by the network backend of
the transport `transport()` builds.
"""

from __future__ import annotations

import contextlib
import time
import typing
import urllib.request
from contextvars import ContextVar

import httpcore
import httpx

_deadline: ContextVar[float | None] = ContextVar("smmpanel_client_deadline", default=None)


@contextlib.contextmanager
def until(deadline: float | None) -> typing.Iterator[None]:
    """Requests made in this block end by `deadline` (a time.monotonic() value; None: no deadline)."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def left(timeout: float | None, error: type[Exception]) -> float | None:
    """The smaller of `timeout` and the time left until the deadline; `error` once it has passed."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise error("the request's deadline passed")
    return remaining if timeout is None else min(timeout, remaining)


class _Stream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore.NetworkStream:
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend):
        self._backend = backend

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None) -> httpcore.NetworkStream:
        timeout = left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._backend.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(self, path, timeout=None, socket_options=None) -> httpcore.NetworkStream:
        timeout = left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def transport() -> httpx.HTTPTransport | None:
    """httpx's transport, its sockets under the deadline; None where the environment names a proxy.

    httpx has no argument for a network backend; its pool (httpcore's) has one, so it is
    set there. A proxy from the environment (HTTPS_PROXY ...) is left to httpx's own
    transports (None: the default); there, and should a future httpx hide the pool, the
    client still checks the deadline between the chunks it reads (see api.Client._post),
    only less tightly.
    """
    if urllib.request.getproxies():
        return None
    http = httpx.HTTPTransport()
    pool = getattr(http, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if backend is not None:
        pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
    return http
