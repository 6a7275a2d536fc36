"""The JSON Schema of `connmodel audit --format json`, for consumers that validate what they read.

Keys are stable within a schema id; a breaking change bumps `connmodel.audit/N`.
"""

from typing import Any

_ROWS: dict[str, Any] = {"type": "array", "items": {"type": "object"}}
_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}

REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "connmodel audit report",
    "type": "object",
    "required": ["schema", "generated_at", "database", "parameters", "empty", "summary",
                 "failing", "sections", "charts", "recommendations"],
    "additionalProperties": False,
    "properties": {
        "schema": {"const": "connmodel.audit/1"},
        "generated_at": {"type": "string", "format": "date-time"},
        "database": {"type": "string"},
        "parameters": {
            "type": "object",
            "required": ["days", "hours", "environment", "limit"],
            "properties": {
                "days": _COUNT, "hours": _COUNT, "limit": {"type": "integer", "minimum": 1},
                "environment": {"enum": [None, "dev", "staging", "production"]},
            },
        },
        "empty": {"type": "boolean"},
        "summary": {
            "type": "object",
            "required": ["connections", "findings"],
            "properties": {
                "connections": {"type": "object", "required": ["Active", "Inactive", "Error"],
                                "additionalProperties": _COUNT},
                "findings": {"type": "object",
                             "required": ["error", "stale", "expiring", "unused_profiles",
                                          "mixed_environments", "unchecked_production"],
                             "additionalProperties": _COUNT},
            },
        },
        "failing": {"type": "array", "items": {"enum": ["error", "stale", "expiring"]}},
        "sections": {
            "type": "object",
            "required": ["erroring", "stale", "expiring", "unused_profiles",
                         "mixed_environments", "unchecked_production",
                         "error_rate_by_provider", "audit_trail"],
            "additionalProperties": {
                "type": "object", "required": ["title", "rows", "truncated"],
                "properties": {"title": {"type": "string"}, "rows": _ROWS,
                               "truncated": {"type": "boolean"}},
            },
        },
        "charts": {"type": "object", "additionalProperties": _ROWS},
        "recommendations": {
            "type": "array",
            "items": {"type": "object", "required": ["command", "why"],
                      "properties": {"command": {"type": "string", "pattern": "^connmodel "},
                                     "why": {"type": "string"}}},
        },
    },
}
