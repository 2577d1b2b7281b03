"""One structured log line per event, with every field passed through the same redaction as
errors, so a server that echoes a header or a secret cannot put it in a log."""

from __future__ import annotations

import logging
from typing import Any

from mdepack.redact import redact


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log `name key=value ...`; the fields also travel as `record.mdepack` for JSON handlers."""
    if not logger.isEnabledFor(level):
        return
    clean = {key: _clean(value) for key, value in fields.items()}
    text = " ".join(f"{key}={'-' if value is None else value}" for key, value in clean.items())
    logger.log(level, "%s %s", name, text, extra={"mdepack": {"event": name, **clean}})


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, (int, bool)) or value is None:
        return value
    return redact(str(value))


class Redacting(logging.Filter):
    """Redacts a record's whole message, whoever logs it (urllib3 logs each URL it asks at DEBUG,
    a SAS link's signature included): attached to the handlers the CLI sets up, and to the
    loggers of the libraries that see URLs."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record, its message redacted."""
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def redact_library_logs() -> None:
    """Redact what the HTTP libraries log (a logger's filter sees only its own records)."""
    for name in ("urllib3.connectionpool", "urllib3.util.retry", "requests"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, Redacting) for f in logger.filters):
            logger.addFilter(Redacting())
