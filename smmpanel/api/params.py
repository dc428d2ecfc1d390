"""Read an API request's fields from a query string, a form body or a JSON body alike.

Every value comes out as a string (or is refused), so the rest of the API
deals with one shape whatever the client sent. The HTTP side arrives as a
RawRequest, built either from Django's request (the URL route, used by the
test client and `runserver`) or straight from the WSGI environ (smmpanel.api.wsgi,
what gunicorn serves): both paths parse fields here, the same way.
"""

import json
from dataclasses import dataclass
from urllib.parse import parse_qsl

from smmpanel.api.errors import ApiError
from smmpanel.hotsettings import hot
from smmpanel.ids import parse_id

MAX_IDS = 100
# Fields whose list values are comma-separated ids; other lists are lines.
ID_FIELDS = {"orders", "refills"}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class RawRequest:
    """What the API reads of an HTTP request, whichever server delivered it."""

    method: str
    query: bytes  # the raw query string
    content_type: str  # the media type alone, lower case
    body: bytes = b""  # the raw body, whatever the method (empty for multipart: see `form`)
    form: dict[str, str] | None = None  # a multipart body's fields, parsed by Django
    idempotency_key: str | None = None  # the Idempotency-Key header, when sent


def parse_form(raw: bytes) -> dict[str, str]:
    """Fields of a query string or an urlencoded body; a repeated name keeps its last value.

    As Django's QueryDict does it: UTF-8 (Latin-1 when the bytes are not
    UTF-8; an urlencoded body has no other charset), blank values kept, at
    most DATA_UPLOAD_MAX_NUMBER_FIELDS fields.
    """
    if not raw:
        return {}
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        text = raw.decode("iso-8859-1")
    try:
        return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=hot.DATA_UPLOAD_MAX_NUMBER_FIELDS))
    except ValueError:  # more fields than allowed
        raise ApiError("request") from None


def _as_text(name: str, value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, list) and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        return ("," if name in ID_FIELDS else "\n").join(str(v) for v in value)
    if isinstance(value, str):
        return value
    # Objects and nested lists: keep them as text so that validation rejects
    # them with the error of the field they were sent for.
    return json.dumps(value)


def _check(name: str, text: str) -> str:
    # NUL is refused by PostgreSQL and lone surrogates cannot be encoded:
    # catch both here rather than as a database error later.
    if "\x00" in text:
        raise ApiError("bad_text", name=name[:40])
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError("bad_text", name=name[:40].encode("utf-8", "replace").decode()) from None
    return text


def read_fields(raw: RawRequest) -> dict[str, str]:
    """The request's fields: query string first, then the body (form or JSON) over it.

    Every method is read alike: a client that sends its fields with PUT or
    DELETE gets the same answer as with POST (documented in docs/api-v2.md).
    The Idempotency-Key header, when sent, is the `idempotency_key` field.
    """
    fields = {k: _check(k, v) for k, v in parse_form(raw.query).items()}
    if raw.form is not None:
        body_fields = raw.form
    elif raw.content_type == "application/json" or (
        raw.content_type not in FORM_TYPES and raw.body.lstrip()[:1] == b"{"
    ):
        body_fields = _json_fields(raw.body)
    elif raw.content_type == "application/x-www-form-urlencoded":
        body_fields = parse_form(raw.body)
    else:
        body_fields = {}  # a body of another kind carries no fields
    fields.update({k: _check(k, v) for k, v in body_fields.items()})
    if raw.idempotency_key is not None:
        fields["idempotency_key"] = _check("Idempotency-Key", raw.idempotency_key)
    return fields


def _json_fields(body: bytes) -> dict[str, str]:
    try:
        # Whole numbers stay text: every field is text anyway, and int() of a
        # 5,000-digit literal would fail (and cost) before validation sees it.
        data = json.loads(body or b"{}", parse_int=str)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: nesting deeper than the parser's stack ([[[[…, 100,000 deep).
        raise ApiError("bad_json") from None
    if not isinstance(data, dict):
        raise ApiError("json_not_object")
    texts = ((name, _as_text(name, value)) for name, value in data.items())
    return {_check("field", name): text for name, text in texts if text is not None}


def id_list(text: str) -> list[str]:
    """A comma-separated id list, each id trimmed as the client will see it echoed."""
    ids = [part.strip() for part in text.split(",")]
    ids = [i for i in ids if i]
    if not ids:
        raise ApiError("request")
    if len(ids) > MAX_IDS:
        raise ApiError("too_many_ids", maximum=MAX_IDS)
    return ids


def echo_id(raw: str):
    """Ids are echoed as numbers when they are numbers, otherwise as sent."""
    number = parse_id(raw)
    return raw if number is None else number
