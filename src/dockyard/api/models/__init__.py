"""Typed models of the Engine API's request bodies, one module per resource,
and the one decoder every router calls (`decode`, Go's encoding/json rules;
see gojson.py)."""

from dockyard.api.models import gojson
from dockyard.api.models.gojson import Model, decode, decode_value

__all__ = ["Model", "decode", "decode_value", "gojson"]
