"""Progress of long commands (retag, seed, export, evaluations): a tqdm bar on a terminal, a count in the log
otherwise (a bar's carriage returns would only clutter a log file or a container's output)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
log = logging.getLogger(__name__)
LOG_EVERY = 10.0  # seconds between two progress lines in the log


def progress(items: Iterable[T], what: str, total: int | None = None) -> Iterator[T]:
    """Yield ``items`` while showing how many of ``total`` are done (``what``: "articles", "pages" …)."""
    if sys.stderr.isatty():
        yield from tqdm(items, total=total, unit=f" {what}", file=sys.stderr, leave=False, dynamic_ncols=True)
        return
    done = 0
    started = last = time.monotonic()
    for item in items:
        yield item
        done += 1
        if time.monotonic() - last >= LOG_EVERY:
            last = time.monotonic()
            log.info("progress", extra={"what": what, "done": done, "total": total})
    if done:
        log.info("progress", extra={"what": what, "done": done, "total": total,
                                    "seconds": round(time.monotonic() - started, 1)})
