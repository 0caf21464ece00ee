"""The published JSON Schema of events is the one the code generates."""

import json
from pathlib import Path

import jsonschema

from scimgate.events.schema import event_schema, event_schema_text

SCHEMA_FILE = Path(__file__).parent.parent / "docs" / "events" / "schema-v1.json"


def test_the_published_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text() == event_schema_text(), (
        "docs/events/schema-v1.json is stale: regenerate it with "
        "'scimgate events schema > docs/events/schema-v1.json'"
    )


def test_the_schema_is_valid_and_refuses_a_malformed_event() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(event_schema())
    malformed = {"id": "x", "type": "user.exploded", "sequence": "one", "data": {}}
    problems = {error.validator for error in validator.iter_errors(malformed)}
    assert {"required", "enum", "type"} <= problems
