"""Console logging with the request's correlation id on every line. Payloads are never logged."""

from __future__ import annotations

import logging

from rich.logging import RichHandler

from citylink.api.middleware import correlation_id


class _CorrelationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        cid = correlation_id.get()
        if cid and not getattr(record, "_cid_added", False):
            record.msg = f"{record.msg} [cid={cid}]"
            record._cid_added = True
        return True


def configure(level: str = "INFO") -> None:
    handler = RichHandler(show_path=False, rich_tracebacks=True)
    handler.addFilter(_CorrelationFilter())
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler], force=True)
