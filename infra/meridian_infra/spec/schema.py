"""The JSON Schemas of the files editors validate (`meridian dev schema` writes them):
environments/platform.schema.json for platform.yaml, apps/app.schema.json for each app's app.yaml."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from meridian_infra.spec.models import AppContract, PlatformSpec

SCHEMA_ID = "https://meridian.dev/schemas/platform.schema.json"
CONTRACT_SCHEMA_ID = "https://meridian.dev/schemas/app.schema.json"
SCHEMAS: dict[str, tuple[type[BaseModel], str]] = {
    "platform": (PlatformSpec, SCHEMA_ID),
    "app": (AppContract, CONTRACT_SCHEMA_ID),
}


def schema(kind: str = "platform") -> dict[str, Any]:
    model, schema_id = SCHEMAS[kind]
    body = model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": schema_id, **body}


def schema_text(kind: str = "platform") -> str:
    return json.dumps(schema(kind), indent=2, sort_keys=True) + "\n"
