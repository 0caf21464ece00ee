"""Text no database can store: NUL (U+0000) and unpaired UTF-16 surrogates (U+D800-U+DFFF).

JSON can carry both (``"\\u0000"``, ``"\\ud800"``); PostgreSQL text refuses them and
SQLite would keep them to hand back as invalid UTF-8. Requests carrying them
are refused, and what is logged about such a request has them replaced.
"""

import re
from typing import Any

UNSTORABLE_DETAIL = (
    "Text may not contain the NUL character (U+0000) or an unpaired surrogate (U+D800-U+DFFF)"
)

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def holds_unstorable(value: Any) -> bool:
    """Whether a decoded JSON value holds unstorable text anywhere (walked without recursion)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def storable(text: str) -> str:
    """``text`` with every unstorable character replaced by U+FFFD.

    ASCII text (a flag ``isascii`` reads) can hold no surrogate, and ``in`` finds a NUL
    faster than the expression's scan: the log stores a path, a query and a user agent
    for every request.
    """
    if text.isascii() and "\x00" not in text:
        return text
    return _UNSTORABLE.sub("\ufffd", text)
