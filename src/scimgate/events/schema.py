"""The JSON Schema of the event envelope and its payloads, published in ``docs/events/``."""

import json
from typing import Any

from scimgate.events.models import SCHEMA_VERSION, Event

SCHEMA_ID = f"urn:scimgate:events:v{SCHEMA_VERSION}"


def event_schema() -> dict[str, Any]:
    schema = Event.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def event_schema_text() -> str:
    """The schema as the file in the repository holds it."""
    return json.dumps(event_schema(), indent=2, sort_keys=True) + "\n"
