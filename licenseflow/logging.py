"""structlog set-up: JSON in production, console in dev; stdlib loggers routed through it."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import IO, Any, Literal

import structlog
from structlog.typing import Processor

from licenseflow.redact import redact_secrets

Format = Literal["console", "json"]
_HANDLER_NAME = "licenseflow"
_configured: tuple[str, str, str] | None = None


class _StreamHandler(logging.StreamHandler[IO[str]]):
    """Writes to whatever `sys.stdout`/`sys.stderr` is at emit time (redirects, test capture)."""

    def __init__(self, target: Literal["stdout", "stderr"]) -> None:
        self._target = target
        super().__init__(self.stream)  # the setter ignores it: `stream` is read at emit time
        self.set_name(_HANDLER_NAME)

    @property
    def stream(self) -> IO[str]:
        return sys.stdout if self._target == "stdout" else sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        """StreamHandler assigns the stream in __init__; we always resolve it lazily."""


def _drop_color_message(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """uvicorn adds an ANSI-coloured duplicate of the message as `color_message`."""
    event.pop("color_message", None)
    return event


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        redact_secrets,  # tokens and query-string secrets never reach a log line
    ]


def configure_logging(
    fmt: str = "console",
    level: str | int = "INFO",
    *,
    stream: Literal["stdout", "stderr"] = "stdout",
    force: bool = False,
) -> None:
    """Configure structlog and stdlib logging once; later calls are no-ops unless `force`.

    `fmt` is "json" (production: one JSON object per line) or "console" (dev). Values bound
    with `structlog.contextvars.bind_contextvars` (request_id, deal_id, workflow_id ...) are
    merged into every event, including records from stdlib loggers (uvicorn, temporalio).
    """
    global _configured
    fmt = fmt.lower()
    if fmt not in ("console", "json"):
        raise ValueError(f"unknown log format {fmt!r}; use 'console' or 'json'")
    level_name = logging.getLevelName(level) if isinstance(level, int) else level.upper()
    if not isinstance(logging.getLevelName(level_name), int):
        raise ValueError(f"unknown log level {level!r}")
    if _configured is not None and not force:
        return

    shared = _shared_processors()
    renderer: Processor
    if fmt == "json":
        # Structured tracebacks without locals: locals may hold tokens or personal data.
        final: list[Processor] = [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            redact_secrets,  # exception messages too
        ]
        renderer = structlog.processors.JSONRenderer()
    else:
        out = sys.stdout if stream == "stdout" else sys.stderr
        final = []
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *final,
            renderer,
        ],
    )
    handler = _StreamHandler(stream)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level_name)
    # Let library loggers propagate to our root handler instead of their own.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "temporalio"):
        lib = logging.getLogger(name)
        lib.handlers.clear()
        lib.propagate = True
    _configured = (fmt, level_name, stream)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger named like a stdlib logger (`get_logger(__name__)`)."""
    return structlog.stdlib.get_logger(name)
