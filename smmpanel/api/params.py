"""Read an API request's fields from a query string, a form body or a JSON body alike.

Every value comes out as a string (or is refused), so the rest of the API
deals with one shape whatever the client sent.
"""

import json

from smmpanel.api.errors import ApiError
from smmpanel.orders.services import parse_id

MAX_IDS = 100
# Fields whose list values are comma-separated ids; other lists are lines.
ID_FIELDS = {"orders", "refills"}


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


def read_fields(request) -> dict[str, str]:
    """The request's fields: query string first, then the body (form or JSON) over it."""
    fields = {k: _check(k, v) for k, v in request.GET.items()}
    if request.method != "POST":
        return fields
    content_type = request.content_type or ""
    body = request.body
    if content_type == "application/json" or (
        content_type not in ("application/x-www-form-urlencoded", "multipart/form-data")
        and body.lstrip()[:1] == b"{"
    ):
        try:
            data = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise ApiError("bad_json") from None
        if not isinstance(data, dict):
            raise ApiError("bad_json")
        for name, value in data.items():
            text = _as_text(name, value)
            if text is not None:
                fields[_check("field", name)] = _check(name, text)
        return fields
    fields.update({k: _check(k, v) for k, v in request.POST.items()})
    return fields


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
