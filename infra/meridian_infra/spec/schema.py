"""The JSON Schema of the environment spec, for editors (`meridian dev schema` writes it)."""

from __future__ import annotations

import json
from typing import Any

from meridian_infra.spec.models import EnvironmentSpec

SCHEMA_ID = "https://meridian.dev/schemas/platform.schema.json"


def environment_schema() -> dict[str, Any]:
    schema = EnvironmentSpec.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    return json.dumps(environment_schema(), indent=2, sort_keys=True) + "\n"
