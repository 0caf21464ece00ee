"""Reading scimgate's events as one long iteration, resuming where the app left off."""

import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from scimgate.client.api import ScimgateClient
from scimgate.client.models import Event, EventType


class CursorStore(Protocol):
    """Where a stream keeps its cursor: the sequence of the last event the app processed.

    Keep it in the app's own database, written in the transaction that applies
    the event, and a crash can neither skip an event nor apply one twice.
    """

    def load(self) -> int | None:
        """The saved cursor, or None before the first save."""

    def save(self, cursor: int) -> None: ...


class FileCursorStore:
    """The cursor in a small file, replaced atomically: a crash leaves the old or the new one."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> int | None:
        try:
            return int(self.path.read_text().strip())
        except FileNotFoundError:
            return None

    def save(self, cursor: int) -> None:
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(handle, "w") as file:
                file.write(f"{cursor}\n")
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class EventStream:
    """Every event after the saved cursor, in order, long-polling for new ones; at least once.

    An event's cursor is saved only once the app has processed it: when the
    loop asks for the next event, or when the app calls :meth:`commit` (before
    leaving the loop with ``break``). A crash while processing an event
    therefore delivers it again after the restart; handle events idempotently.

    One consumer per stream. Iterating raises CursorExpiredError when the
    saved cursor is older than the events' retention, and ApiError or an httpx
    error when scimgate cannot be reached; iterate again to resume.
    """

    def __init__(
        self,
        client: ScimgateClient,
        cursors: CursorStore,
        *,
        organization_id: str | None = None,
        directory_id: str | None = None,
        types: Iterable[EventType | str] = (),
        wait: float = 25.0,
        page_size: int = 100,
        start_after: int = 0,
    ) -> None:
        """``start_after`` is the cursor to begin from when none is saved (0: all retained)."""
        self.client = client
        self.cursors = cursors
        self.organization_id = organization_id
        self.directory_id = directory_id
        self.types = tuple(types)
        self.wait = wait
        self.page_size = page_size
        self.start_after = start_after
        self._unsaved: int | None = None
        self._stopping = threading.Event()

    def __iter__(self) -> Iterator[Event]:
        self._unsaved = None
        saved = self.cursors.load()
        cursor = self.start_after if saved is None else saved
        while not self._stopping.is_set():
            page = self.client.events(
                cursor,
                limit=self.page_size,
                organization_id=self.organization_id,
                directory_id=self.directory_id,
                types=self.types,
                wait=self.wait,
            )
            for event in page.data:
                if self._stopping.is_set():
                    return
                self._unsaved = event.sequence
                yield event
                self.commit()
            cursor = page.next_cursor

    def commit(self) -> None:
        """Save the cursor of the event last handed out: the app has processed it."""
        if self._unsaved is not None:
            self.cursors.save(self._unsaved)
            self._unsaved = None

    def stop(self) -> None:
        """End the iteration (from another thread); a long poll in progress finishes first."""
        self._stopping.set()
