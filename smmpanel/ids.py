"""What a typed id is: ASCII digits that fit a bigint (order, service, refill, ledger row and page ids alike).

Customers type ids into the API, the panel's search boxes and links; every
face reads them with `parse_id`, so "²", "١٢" or a 30-digit number are a
missing id everywhere, never a 500 from int() or the database.
"""

MAX_DIGITS = 18  # every 18-digit number fits a signed 64-bit integer (bigint)


def parse_id(raw) -> int | None:
    """The id `raw` names (its text, stripped), or None when it is not one."""
    text = str(raw).strip()
    # ASCII digits only: str.isdigit() is also true of "²" (which int() refuses)
    # and of other scripts' digits, which are not ids.
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_DIGITS:
        return None
    return int(text)
