"""Reading an API request off the wire: one size limit for every body, whatever its encoding or method.

Both entry points build their RawRequest here (smmpanel.api.wsgi from the
WSGI environ, the Django view from its request), so a body is refused the
same way on both:

- with a Content-Length over DATA_UPLOAD_MAX_MEMORY_SIZE, before a byte of it
  is read (multipart included: Django's parser limits only the non-file
  fields, so a 100 MB file part used to be parsed);
- without one (chunked), while it is read, in small pieces, as soon as it
  passes the limit — never buffered whole.

Every method is read alike (query string, then the body), so PUT, PATCH,
DELETE, HEAD and OPTIONS behave as POST does; a multipart body is parsed by
Django's parser from the bytes already read, its file parts dropped.
"""

from functools import lru_cache
from io import BytesIO

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.core.files.uploadhandler import FileUploadHandler
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.utils.http import parse_header_parameters

from smmpanel.api.errors import ApiError
from smmpanel.api.params import RawRequest
from smmpanel.hotsettings import hot

CHUNK = 64 * 1024


def limit() -> int | None:
    return hot.DATA_UPLOAD_MAX_MEMORY_SIZE


def declared_length(meta) -> int | None:
    """The Content-Length, or None when there is none (or it is not a number)."""
    text = meta.get("CONTENT_LENGTH")
    if not text:
        return None
    try:
        return max(0, int(text))
    except ValueError:
        return None


def read_body(meta, stream) -> bytes:
    """The body, up to the limit; ApiError("too_big") beyond it."""
    maximum = limit()
    length = declared_length(meta)
    try:
        if length is not None:
            if maximum is not None and length > maximum:
                raise ApiError("too_big")  # refused from the header: nothing read, nothing parsed
            return stream.read(length) if length else b""
        if not meta.get("wsgi.input_terminated"):
            return b""  # no length and a server that cannot say where the body ends: no body
        return _read_to_end(stream, maximum)
    except OSError:  # the client went away mid-body
        raise ApiError("request") from None


def _read_to_end(stream, maximum: int | None) -> bytes:
    parts, size = [], 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if maximum is not None and size > maximum:
            raise ApiError("too_big")
        parts.append(chunk)
    return b"".join(parts)


class _DropFiles(FileUploadHandler):
    """File parts carry no API fields: read past them, keep nothing."""

    def receive_data_chunk(self, raw_data, start):
        return None

    def file_complete(self, file_size):
        return None


def multipart_fields(meta, body: bytes) -> dict[str, str]:
    """The fields of a multipart body already in memory (Django's parser and its field limits)."""
    meta = {**meta, "CONTENT_LENGTH": str(len(body))}
    try:
        fields, _files = MultiPartParser(meta, BytesIO(body), [_DropFiles()], settings.DEFAULT_CHARSET).parse()
    except RequestDataTooBig:
        raise ApiError("too_big") from None
    except (SuspiciousOperation, MultiPartParserError, BadRequest, LookupError, ValueError):
        raise ApiError("request") from None
    return fields.dict()  # type: ignore[return-value]  # a QueryDict: the last value of each field, a str


def _header_text(value: str | None) -> str | None:
    """A header's text: PEP 3333 hands it over as Latin-1; clients send UTF-8."""
    if value is None:
        return None
    try:
        return value.encode("iso-8859-1").decode("utf-8")
    except UnicodeError:
        return value


@lru_cache(maxsize=128)
def media_type(header: str) -> str:
    """The Content-Type header's media type (Django's parsing; a client sends the same one every time)."""
    try:
        content_type, _ = parse_header_parameters(header)
    except ValueError:  # a parameter in an unknown charset (RFC 2231): not kept, refused each time
        raise ApiError("request") from None
    return content_type


def raw_request(meta, stream) -> RawRequest:
    """The request from a WSGI environ (or Django's META) and a stream of its body."""
    content_type = media_type(meta.get("CONTENT_TYPE", ""))
    body = read_body(meta, stream)
    form = None
    if content_type == "multipart/form-data":
        form, body = multipart_fields(meta, body), b""
    return RawRequest(
        method=meta.get("REQUEST_METHOD", "GET").upper(),
        # PEP 3333: environ strings carry the request's bytes as Latin-1.
        query=meta.get("QUERY_STRING", "").encode("iso-8859-1"),
        content_type=content_type,
        body=body,
        form=form,
        idempotency_key=_header_text(meta.get("HTTP_IDEMPOTENCY_KEY")),
    )
