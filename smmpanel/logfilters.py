"""Logging filters: what an operator needs in the log, without noise.

A refused request (HTTP 403: a permission check, a CSRF failure) is an
answer, not a failure of the panel: its one warning line is enough, so the
traceback Django attaches to it is dropped. Errors keep theirs.
"""

import logging


class NoTracebackFor403(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
