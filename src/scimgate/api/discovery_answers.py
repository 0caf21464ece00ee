"""Discovery answers (RFC 7644 §4) rendered once for what they depend on, and kept.

``/Schemas`` is the largest answer a SCIM client asks for, and the models render it
in about 5 ms of CPU (22 KB for the core schemas alone; a single schema, 4 ms): some
twenty lookups' worth. At the default rate limit one directory's client asking for it
again and again could keep most of a server's core busy, slowing every other
directory. What a discovery answer holds depends only on the directory's models (the
schemas it registered), its base URL and the limits, so each is rendered once for
those and its body kept. A directory that registers or removes a schema has new
models (``service.provisioning.directory_models``), and so new answers.
"""

from collections import OrderedDict
from collections.abc import Callable
from threading import Lock

from scimgate.api.responses import ScimResponse
from scimgate.scim.extensions import ResourceModels
from scimgate.scim.limits import Limits
from scimgate.service.provisioning.scope import Scope

KEPT = 256
"""Answers kept, the least recently asked dropped first: a few for each directory in use."""

_Key = tuple[str, int, str, Limits]


class DiscoveryAnswers:
    """Rendered discovery answers, by what they are rendered from."""

    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        self._bodies: OrderedDict[_Key, tuple[ResourceModels, bytes]] = OrderedDict()
        """Each answer's body with the models it was rendered from: the key holds their
        ``id``, which another object could take once they were gone, so they are kept."""
        self._lock = Lock()

    def answer(self, scope: Scope, name: str, render: Callable[[], ScimResponse]) -> ScimResponse:
        """The answer ``render`` gives for the directory of ``scope``, rendered the first time
        only; ``name`` tells one discovery answer from another (``Schemas/<id>``)."""
        models = scope.models
        key = (name, id(models), scope.base_url, scope.limits)
        with self._lock:
            found = self._bodies.get(key)
            if found is not None:
                self._bodies.move_to_end(key)
                return ScimResponse(found[1])
        rendered = render()
        with self._lock:
            self._bodies[key] = (models, bytes(rendered.body))
            self._bodies.move_to_end(key)
            while len(self._bodies) > self._kept:
                self._bodies.popitem(last=False)
        return rendered
