"""The dashboard JSON Schema, generated from the SDK's own models.

Grafana's SDK generates its Python models and its JSON Schemas from the same CUE
definitions, but the Python package ships only the models. This module rebuilds the schema
from them: every model class becomes a definition with its JSON keys (read from its
``to_json``), the keys ``to_json`` always writes as ``required``, the attribute types as
JSON types (enums and literals as ``enum``) and no other keys allowed. A panel's
``options`` and ``fieldConfig.defaults.custom`` are checked against the models of its panel
type, and its targets against its datasource's query model, as registered by the SDK's
``register_default_plugins``.
"""

from __future__ import annotations

import enum
import types
import typing
from typing import Any

from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as models

ROOT = models.Dashboard


class _Marker:
    """Stands in for an attribute's value to learn which JSON key ``to_json`` writes it to."""

    __slots__ = ("attr",)

    def __init__(self, attr: str) -> None:
        self.attr = attr


def _is_model(tp: object) -> bool:
    return isinstance(tp, type) and callable(getattr(tp, "to_json", None)) and callable(
        getattr(tp, "from_json", None)) and not issubclass(tp, enum.Enum)


def _name(cls: type) -> str:
    return f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__qualname__}"


class _Generator:
    def __init__(self) -> None:
        self.defs: dict[str, dict[str, Any]] = {}

    def ref(self, cls: type) -> dict[str, Any]:
        name = _name(cls)
        if name not in self.defs:
            self.defs[name] = {}  # placeholder: breaks recursion
            self.defs[name] = self._object(cls)
        return {"$ref": f"#/$defs/{name}"}

    def _object(self, cls: type) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        attrs = [a for a in hints if not a.startswith("_")]
        probe = cls()
        for attr in attrs:
            setattr(probe, attr, _Marker(attr))
        keys = {value.attr: key for key, value in probe.to_json().items()
                if isinstance(value, _Marker)}
        for attr in attrs:
            setattr(probe, attr, None)
        required = sorted(probe.to_json())
        properties = {}
        for attr in attrs:
            if attr not in keys:
                continue
            schema = self.type(hints[attr])
            if keys[attr] in required and type(None) in typing.get_args(hints[attr]):
                schema = {"anyOf": [schema, {"type": "null"}]}  # written even when None
            properties[keys[attr]] = schema
        return {"type": "object", "additionalProperties": False, "required": required,
                "properties": properties}

    def type(self, tp: Any) -> dict[str, Any]:
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if tp is typing.Any or tp is object:
            return {}
        if tp is type(None):
            return {"type": "null"}
        if origin in (typing.Union, types.UnionType):
            options = [self.type(a) for a in args if a is not type(None)]
            return options[0] if len(options) == 1 else {"anyOf": options}
        if origin is typing.Literal:
            return {"enum": list(args)}
        if origin is list:
            return {"type": "array", "items": self.type(args[0]) if args else {}}
        if origin is dict:
            return {"type": "object",
                    "additionalProperties": self.type(args[1]) if args else {}}
        if isinstance(tp, type):
            if issubclass(tp, enum.Enum):
                return {"enum": [m.value for m in tp]}
            if tp is bool:
                return {"type": "boolean"}
            if tp is int:
                return {"type": "integer"}
            if tp is float:
                return {"type": "number"}
            if tp is str:
                return {"type": "string"}
            if tp is cogvariants.Dataquery:
                return {"type": "object"}  # narrowed per datasource below
            if _is_model(tp):
                return self.ref(tp)
        raise TypeError(f"no JSON Schema for {tp!r}")


def dashboard_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of a dashboard as Grafana stores it (schemaVersion 42)."""
    plugins.register_default_plugins()
    registry = cogruntime.Runtime()
    gen = _Generator()
    root = gen.ref(ROOT)
    panel = gen.defs[_name(models.Panel)]
    panel_types = sorted(registry.panelcfg_variants)
    panel["properties"]["type"] = {"enum": panel_types}
    rules: list[dict[str, Any]] = []
    for panel_type, config in sorted(registry.panelcfg_variants.items()):
        then: dict[str, Any] = {}
        if config.options_from_json_hook is not None:
            then["options"] = gen.ref(_owner(config.options_from_json_hook))
        if config.field_config_from_json_hook is not None:
            custom = gen.ref(_owner(config.field_config_from_json_hook))
            then["fieldConfig"] = {"properties": {"defaults": {"properties": {
                "custom": custom}}}}
        if then:
            rules.append({"if": {"properties": {"type": {"const": panel_type}},
                                 "required": ["type"]},
                          "then": {"properties": then}})
    for ds_type, query in sorted(registry.dataquery_variants.items()):
        owner = getattr(query.from_json_hook, "__self__", None)
        if not isinstance(owner, type):
            continue  # a union of query kinds (CloudWatch, expressions): not used here
        query_ref = gen.ref(owner)
        rules.append({
            "if": {"properties": {"datasource": {"properties": {"type": {"const": ds_type}},
                                                 "required": ["type"]}},
                   "required": ["datasource"]},
            "then": {"properties": {"targets": {"items": query_ref}}}})
    panel["allOf"] = rules
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **root,
            "$defs": gen.defs}


def _owner(hook: object) -> type:
    """The model class of a ``from_json`` classmethod the SDK registered as a hook."""
    owner = getattr(hook, "__self__", None)
    if not isinstance(owner, type):
        raise TypeError(f"{hook!r} is not a model's from_json")
    return owner


def validate(dashboard: dict[str, Any]) -> list[str]:
    """Every schema violation of ``dashboard`` as ``path: message`` (empty when valid)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(dashboard_schema())
    problems = []
    for error in sorted(validator.iter_errors(dashboard), key=lambda e: list(e.path)):
        if error.context:  # anyOf (a panel or a row, ...): say why the closest one failed
            error = jsonschema.exceptions.best_match(error.context)
        path = "/".join(str(p) for p in error.absolute_path) or "(root)"
        problems.append(f"{path}: {error.message}")
    return problems
