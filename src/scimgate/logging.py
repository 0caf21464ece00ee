"""Log configuration: one structured line per event, JSON for machines or coloured for people.

Whatever is bound in structlog's context variables (the request id while a
request is served) is merged into every line.
"""

import logging
import sys
from typing import TextIO

import structlog
from structlog.typing import Processor


def configure(json: bool, stream: TextIO | None = None) -> None:
    """Set up structlog for this process: JSON lines when ``json``, else a console rendering.

    Lines go to ``stream`` (standard error when None) at level INFO and above.
    """
    # A plain traceback: rendering one with every frame's locals takes seconds, and an
    # unexpected error is logged on the event loop, which answers nothing meanwhile.
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    exceptions: list[Processor] = [structlog.processors.format_exc_info] if json else []
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            *exceptions,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
