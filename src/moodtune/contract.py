"""The one JSON contract: the core dataclasses are the schema, pydantic turns them into JSON.

``to_json(obj)`` is what ``--json``, every HTTP response and the WebSocket send; FastAPI routes
declare the same dataclasses as ``response_model``, so ``/openapi.json`` describes exactly that.
Fields annotated ``Rounded`` are rounded to 4 decimals in JSON only (Python keeps full floats).
"""

from __future__ import annotations

from functools import cache
from types import GenericAlias
from typing import Annotated, Any

from pydantic import PlainSerializer, TypeAdapter

Rounded = Annotated[float, PlainSerializer(lambda v: round(float(v), 4), return_type=float, when_used="json")]


@cache
def adapter(tp: Any) -> TypeAdapter:
    """The (cached) pydantic ``TypeAdapter`` for a type."""
    return TypeAdapter(tp)


def to_json(obj: Any) -> Any:
    """``obj`` (a contract dataclass, or a list of them) as JSON-ready Python data."""
    tp: Any = GenericAlias(list, type(obj[0])) if isinstance(obj, list) and obj else type(obj)  # list[<its items' type>]
    return adapter(tp).dump_python(obj, mode="json")
