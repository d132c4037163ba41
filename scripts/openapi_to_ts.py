"""Write TypeScript types for the schemas of the shipped OpenAPI document.

``python scripts/openapi_to_ts.py`` reads ``jupyter_sessions/openapi/extension.json`` (the
routes the side panel calls) and writes ``labextension/src/generated/api.ts``; ``make
openapi-ts`` does the same. ``--check`` only compares and exits 1 when the file is stale.

The mapping, kept small on purpose (it covers what the documents use):

- an object schema with properties becomes ``export interface I<Name>`` (optional unless
  ``required``); a property's ``description`` and ``readOnly`` become its doc comment;
- the enums (``anyOf`` of the names and the integers) become a union of the names, the form
  the server writes unless asked for ``$alt=json;enum-encoding=int``;
- an object schema with output-only (``readOnly``) properties also gets
  ``<Name>OutputOnlyField``, the union of their names;
- ``allOf`` is an intersection, ``anyOf``/``oneOf`` a union, ``const`` a literal type,
  ``additionalProperties`` a ``Record<string, T>``; int64 strings stay ``string``.

Schemas are written in name order and properties in document order, so the same document
always gives the same file.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "jupyter_sessions" / "openapi" / "extension.json"
OUT = ROOT / "labextension" / "src" / "generated" / "api.ts"
COMMAND = "make openapi-ts"
REF_PREFIX = "#/components/schemas/"
IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
INDENT = "  "
WIDTH = 80

Schema = dict[str, Any]


def _literal(value: Any) -> str:
    """A TypeScript literal for a JSON value (strings in single quotes)."""
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace("'", "\\'")
        return f"'{escaped}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return json.dumps(value)


def _key(name: str) -> str:
    return name if IDENTIFIER.match(name) else _literal(name)


def _comment(lines: list[str], indent: str) -> list[str]:
    text = [line.replace("*/", "*\\/") for line in lines if line]
    if not text:
        return []
    if len(text) == 1:
        return [f"{indent}/** {text[0]} */"]
    return [f"{indent}/**", *(f"{indent} * {line}" for line in text), f"{indent} */"]


def _typed(head: str, expr: str, indent: str) -> list[str]:
    """``head expr;``, a long union broken one member a line (as prettier lays it out)."""
    line = f"{head} {expr};"
    members = expr.split(" | ")
    if len(line) <= WIDTH or "\n" in expr or len(members) < 2:
        return [line]
    inner = indent + INDENT
    if len(f"{inner}{expr};") <= WIDTH:
        return [head, f"{inner}{expr};"]
    return [head, *(f"{inner}| {m}" for m in members[:-1]), f"{inner}| {members[-1]};"]


def _is_named_enum(schema: Schema) -> bool:
    """An enum schema: names (and maybe their integers) or a plain string enum."""
    if "enum" in schema:
        return True
    options: list[Schema] = schema.get("anyOf") or []
    return bool(options) and all("enum" in option for option in options)


def _is_object(schema: Schema) -> bool:
    return schema.get("type") == "object" or "properties" in schema


class Writer:
    """Turns the ``components.schemas`` of one document into TypeScript text."""

    def __init__(self, schemas: dict[str, Schema]) -> None:
        self.schemas = schemas

    def type_name(self, name: str) -> str:
        schema = self.schemas[name]
        return f"I{name}" if _is_object(schema) and not _is_named_enum(schema) else name

    def ref(self, ref: str) -> str:
        if not ref.startswith(REF_PREFIX):
            raise ValueError(f"only local schema references are supported, not {ref!r}")
        name = ref[len(REF_PREFIX) :]
        if name not in self.schemas:
            raise KeyError(f"reference to a schema that is not there: {ref!r}")
        return self.type_name(name)

    def enum(self, schema: Schema) -> str:
        if "enum" in schema:
            return " | ".join(_literal(v) for v in schema["enum"])
        names = [o for o in schema["anyOf"] if o.get("type") == "string"]
        chosen = names or schema["anyOf"]
        return " | ".join(_literal(v) for option in chosen for v in option["enum"])

    def expr(self, schema: Schema, indent: str) -> str:
        """The TypeScript type of a schema; `indent` is that of the line it starts on."""
        if "$ref" in schema:
            return self.ref(schema["$ref"])
        if "const" in schema:
            return _literal(schema["const"])
        if _is_named_enum(schema):
            return self.enum(schema)
        if "allOf" in schema:
            return " & ".join(self.wrap(self.expr(s, indent)) for s in schema["allOf"])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return " | ".join(self.wrap(self.expr(s, indent)) for s in schema[key])
        kind = schema.get("type")
        if isinstance(kind, list):  # OpenAPI 3.1: e.g. ["string", "null"]
            return " | ".join(self.expr({**schema, "type": k}, indent) for k in kind)
        if kind == "string":
            return "string"
        if kind in ("integer", "number"):
            return "number"
        if kind == "boolean":
            return "boolean"
        if kind == "null":
            return "null"
        if kind == "array":
            return f"{self.wrap(self.expr(schema.get('items', {}), indent))}[]"
        if _is_object(schema):
            return self.object_expr(schema, indent)
        return "unknown"

    @staticmethod
    def wrap(text: str) -> str:
        top_level = text.replace("\n", " ")
        return f"({text})" if (" | " in top_level or " & " in top_level) else text

    def additional(self, schema: Schema, indent: str) -> str | None:
        extra = schema.get("additionalProperties")
        if extra is None or extra is False:
            return None
        if extra is True or extra == {}:
            return "unknown"
        return self.expr(extra, indent)

    def object_expr(self, schema: Schema, indent: str) -> str:
        properties = schema.get("properties")
        extra = self.additional(schema, indent)
        if not properties:
            if schema.get("maxProperties") == 0:
                return "Record<string, never>"
            return f"Record<string, {extra or 'unknown'}>"
        body = self.members(schema, indent + INDENT)
        return "{\n" + "\n".join(body) + f"\n{indent}}}"

    def members(self, schema: Schema, indent: str) -> list[str]:
        required = set(schema.get("required", []))
        lines: list[str] = []
        for name, prop in schema.get("properties", {}).items():
            notes = [prop.get("description", "")]
            if prop.get("readOnly"):
                notes.append("Output only.")
            lines += _comment(notes, indent)
            optional = "" if name in required else "?"
            head = f"{indent}{_key(name)}{optional}:"
            lines += _typed(head, self.expr(prop, indent), indent)
        extra = self.additional(schema, indent)
        if extra is not None:
            lines.append(f"{indent}[key: string]: {extra};")
        return lines

    def declaration(self, name: str) -> list[str]:
        schema = self.schemas[name]
        ts_name = self.type_name(name)
        lines = _comment([schema.get("description", "")], "")
        if _is_object(schema) and schema.get("properties") and ts_name.startswith("I"):
            lines.append(f"export interface {ts_name} {{")
            lines += self.members(schema, INDENT)
            lines.append("}")
            output_only = [n for n, p in schema["properties"].items() if p.get("readOnly")]
            if output_only:
                lines += ["", f"/** The output-only fields of {ts_name}. */"]
                head = f"export type {name}OutputOnlyField ="
                lines += _typed(head, " | ".join(_literal(n) for n in output_only), "")
            return lines
        return lines + _typed(f"export type {ts_name} =", self.expr(schema, ""), "")


def render(spec: dict[str, Any], source: str) -> str:
    """The whole generated file for an OpenAPI document."""
    schemas: dict[str, Schema] = spec.get("components", {}).get("schemas", {})
    writer = Writer(schemas)
    title = spec.get("info", {}).get("title", "")
    out = [
        "/**",
        f" * Generated from {source} by scripts/openapi_to_ts.py: do not edit.",
        f" * Regenerate with `{COMMAND}` (or `python scripts/openapi_to_ts.py`).",
        *([f" * Schemas of: {title}."] if title else []),
        " */",
    ]
    for name in sorted(schemas):
        out.append("")
        out += writer.declaration(name)
    return "\n".join(out) + "\n"


def generate(spec_path: Path = SPEC) -> str:
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    try:
        source = spec_path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        source = spec_path.name
    return render(spec, source)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/openapi_to_ts.py")
    parser.add_argument("--spec", type=Path, default=SPEC, help="the OpenAPI document")
    parser.add_argument("--out", type=Path, default=OUT, help="the TypeScript file to write")
    parser.add_argument(
        "--check", action="store_true", help="only compare; exit 1 if the file is stale"
    )
    args = parser.parse_args(argv)
    text = generate(args.spec)
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else None
        if current != text:
            print(f"out of date: {args.out} (run {COMMAND})", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
