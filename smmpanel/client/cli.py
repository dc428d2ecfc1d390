"""``smmpanel client``: the API v2 client from the command line.

    smmpanel client --url https://panel.example/api/v2 --key KEY balance
    SMMPANEL_CLIENT_KEY=KEY smmpanel client --url URL status 1 2 3 --table

Prints JSON (or an aligned table with ``--table``) on stdout. Exit status 0 when
everything succeeded, 1 when the panel refused (any id of) the request or could
not be reached or read, with the reason on stderr; 2 for a usage error. Runs
without Django: ``smmpanel``'s entry point hands ``client`` over before it sets
Django up.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from decimal import Decimal
from typing import Any

from .api import Client, parse_id
from .errors import ApiError, ClientError

KEY_ENV = "SMMPANEL_CLIENT_KEY"
URL_ENV = "SMMPANEL_CLIENT_URL"


def _id(text: str) -> int:
    try:
        return parse_id(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an id: {text!r}") from None


def _param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    return name, value.replace("\\n", "\n")  # lets a shell line carry a list of lines


def _parser(prog: str) -> argparse.ArgumentParser:
    # The common options work before or after the action (SUPPRESS keeps a subparser from
    # overwriting a value given before it with its default).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        help=f"the panel's API endpoint, e.g. https://panel.example/api/v2 (or ${URL_ENV})",
    )
    common.add_argument("--key", default=argparse.SUPPRESS, help=f"the API key (or ${KEY_ENV})")
    common.add_argument("--timeout", type=float, default=argparse.SUPPRESS, help="seconds (default 30)")
    common.add_argument(
        "--table", action="store_true", default=argparse.SUPPRESS, help="an aligned table instead of JSON"
    )
    parser = argparse.ArgumentParser(prog=prog, parents=[common], description="Talk to an SMM panel's API v2.")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("services", parents=[common], help="the panel's services")
    add = actions.add_parser("add", parents=[common], help="place an order")
    add.add_argument("--service", type=_id, required=True)
    add.add_argument("--link")
    add.add_argument("--quantity")
    add.add_argument("--runs")
    add.add_argument("--interval")
    add.add_argument(
        "--param",
        type=_param,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any other field of the order type (comments=..., username=...); \\n in VALUE separates lines; repeatable",
    )
    for name, help_text in [
        ("status", "orders' statuses"),
        ("refill", "ask for refills of orders"),
        ("refill-status", "refills' statuses"),
        ("cancel", "ask to cancel orders"),
    ]:
        sub = actions.add_parser(name, parents=[common], help=help_text)
        sub.add_argument("ids", type=_id, nargs="+", metavar="ID")
    actions.add_parser("balance", parents=[common], help="the account's balance")
    return parser


# --- output --------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A result as JSON-ready data: dataclasses without their raw answer, Decimal as text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name != "raw"}
    if isinstance(value, ApiError):
        return {"error": value.message}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def table(rows: list[dict]) -> str:
    """Rows of one shape as aligned columns under a header; numbers right-aligned."""
    if not rows:
        return ""
    columns = list(dict.fromkeys(name for row in rows for name in row))
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    numeric = [all(_is_number(row.get(c)) for row in rows if row.get(c) not in (None, "")) for c in columns]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(columns), *(line(c) for c in cells)])


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, Decimal)):
        return True
    if isinstance(value, str):
        try:
            Decimal(value)
        except ArithmeticError:
            return False
        return True
    return False


def _rows(action: str, result: Any) -> list[dict]:
    """The table rows of a result: one per service or id."""
    plain = _plain(result)
    if action == "services":
        return plain
    if action in ("add", "balance"):
        return [plain]
    id_name = "refill" if action == "refill-status" else "order"
    rows = []
    for key, value in plain.items():
        if isinstance(value, dict) and "error" in value:
            rows.append({id_name: key, "error": value["error"]})
        elif isinstance(value, dict):
            rows.append({id_name: key, **value})
        else:
            column = {"refill": "refill", "refill-status": "status", "cancel": "cancel"}[action]
            rows.append({id_name: key, column: value})
    return rows


# --- running an action --------------------------------------------------------------------------------


def _by_id(single, multi, ids: list[int]) -> dict[int, Any]:
    """One id through the single form (which every panel has), several through the multi form."""
    if len(ids) > 1:
        return multi(ids)
    try:
        return {ids[0]: single(ids[0])}
    except ApiError as e:
        return {ids[0]: e}


def _run(client: Client, args: argparse.Namespace) -> Any:
    action = args.action
    if action == "services":
        return client.services()
    if action == "add":
        params = dict(args.param)
        for name in ("link", "quantity", "runs", "interval"):
            if getattr(args, name) is not None:
                params[name] = getattr(args, name)
        return {"order": client.add(args.service, **params)}
    if action == "status":
        return _by_id(client.status, client.statuses, args.ids)
    if action == "refill":
        return _by_id(client.refill, client.refills, args.ids)
    if action == "refill-status":
        return _by_id(client.refill_status, client.refill_statuses, args.ids)
    if action == "cancel":
        return {number: "accepted" if result is None else result for number, result in client.cancel(args.ids).items()}
    if action == "balance":
        balance = client.balance()
        return {"balance": balance.amount, "currency": balance.currency}
    raise AssertionError(action)


def main(argv: list[str] | None = None, prog: str = "smmpanel client") -> int:
    parser = _parser(prog)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    url = getattr(args, "url", None) or os.environ.get(URL_ENV)
    key = getattr(args, "key", None) or os.environ.get(KEY_ENV)
    if not url:
        parser.error(f"--url (or ${URL_ENV}) is required")
    if not key:
        parser.error(f"--key (or ${KEY_ENV}) is required")
    try:
        with Client(url, key, timeout=getattr(args, "timeout", 30.0)) as client:
            result = _run(client, args)
    except ApiError as e:
        print(f"error: the panel answered: {e.message}", file=sys.stderr)
        return 1
    except ClientError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if args.action == "services" and client.last_skipped:
        skipped = client.last_skipped
        services = "service" if skipped == 1 else "services"  # the client is standalone: no Django ngettext
        print(f"note: {skipped} {services} without an id, a name or a rate left out", file=sys.stderr)
    if getattr(args, "table", False):
        print(table(_rows(args.action, result)))
    else:
        print(json.dumps(_plain(result), indent=2))
    failed = {k: v for k, v in result.items() if isinstance(v, ApiError)} if isinstance(result, dict) else {}
    for number, error in failed.items():
        print(f"error: {number}: {error.message}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
