"""Log output for `learnloop`: plain text for people, or one JSON object per line for a log
pipeline (LOG_FORMAT=json). Only the CLI configures logging; modules just log."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """time (ISO 8601, UTC), level, logger, message, and exc_info (the traceback) when there
    is one; json.dumps escapes newlines, so a traceback stays on its record's line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, log_format: str) -> None:
    """Root logging at `level` in `log_format`; ValueError names a level or format that is not
    one (the CLI turns it into a configuration error)."""
    if log_format not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be text or json, got {log_format!r}")
    if not isinstance(logging.getLevelName(level.upper()), int):
        raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
    handler = logging.StreamHandler()
    json_lines = log_format == "json"
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
