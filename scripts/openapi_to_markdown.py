#!/usr/bin/env python3
"""Generate ``docs/reference.md`` from ``idp/openapi.json``.

    python scripts/openapi_to_markdown.py            # (re)write docs/reference.md
    python scripts/openapi_to_markdown.py --check    # exit 1 if docs/reference.md is stale

The output is Markdown that MDX also accepts: front matter, one section per operation (its
parameters, request body and responses), then the schemas. Prose from the document is escaped
for MDX outside code spans (``<``, ``>``, ``{`` and ``}``), and nothing in it is HTML.
Only the standard library is used, so the script runs anywhere the repository is checked out.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "idp" / "openapi.json"
REFERENCE = ROOT / "docs" / "reference.md"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SCHEMA_PREFIX = "#/components/schemas/"
MDX_ESCAPES = {"<": "&lt;", ">": "&gt;", "{": "&#123;", "}": "&#125;"}
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)


# -- text --------------------------------------------------------------------------------------


def prose(text: str) -> str:
    """Document prose, safe for MDX: ``<``, ``>``, ``{``, ``}`` escaped outside code spans."""
    out: list[str] = []
    last = 0
    for match in CODE_SPAN.finditer(text):
        out.append(_escape(text[last : match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(_escape(text[last:]))
    return "".join(out)


def _escape(text: str) -> str:
    return "".join(MDX_ESCAPES.get(c, c) for c in text)


def cell(text: str) -> str:
    """Prose for one table cell: a single line, with ``|`` escaped."""
    return prose(" ".join(text.split())).replace("|", "\\|")


def code(text: str) -> str:
    """``text`` as a code span, whatever backticks it holds."""
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def slug(text: str) -> str:
    """The anchor GitHub, Docusaurus and most MDX toolchains give a heading."""
    text = re.sub(r"[^\w\- ]", "", text.lower().strip())
    return text.replace(" ", "-")


# -- the document ------------------------------------------------------------------------------


class Document:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.data
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for path, item in self.data["paths"].items():
            for method in METHODS:
                if method in item:
                    yield path, method, item[method]

    def tags(self) -> list[dict[str, Any]]:
        tags: list[dict[str, Any]] = list(self.data.get("tags", []))
        known = {t["name"] for t in tags}
        for _, _, operation in self.operations():
            for name in operation.get("tags", []):
                if name not in known:
                    tags.append({"name": name})
                    known.add(name)
        return tags


# -- schemas as text ---------------------------------------------------------------------------


def type_of(schema: dict[str, Any], doc: Document) -> str:
    """A one-line Markdown description of a schema's type."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(SCHEMA_PREFIX)
        return f"[{name}](#{slug(name)})"
    if "const" in schema:
        return code(json.dumps(schema["const"], ensure_ascii=False))
    if "enum" in schema:
        return " \\| ".join(code(json.dumps(v, ensure_ascii=False)) for v in schema["enum"])
    for combinator, joiner in (("oneOf", " or "), ("anyOf", " or "), ("allOf", " and ")):
        if combinator in schema:
            parts = [type_of(s, doc) for s in schema[combinator]]
            return joiner.join(p for p in parts if p)
    kind = schema.get("type")
    if kind is None:
        return "any"
    kinds = kind if isinstance(kind, list) else [kind]
    names = []
    for k in kinds:
        if k == "array":
            names.append(f"array of {type_of(schema.get('items', {}), doc)}")
        else:
            names.append(k)
    return " or ".join(names)


def constraints(schema: dict[str, Any]) -> str:
    notes = []
    for key, label in (
        ("format", "format"),
        ("pattern", "pattern"),
        ("minLength", "at least {} characters"),
        ("maxLength", "at most {} characters"),
        ("minItems", "at least {} items"),
        ("maxItems", "at most {} items"),
        ("minimum", "≥ {}"),
        ("maximum", "≤ {}"),
    ):
        if key in schema:
            value = schema[key]
            if key in ("format", "pattern"):
                notes.append(f"{label} {code(str(value))}")
            else:
                notes.append(label.format(value))
    items = schema.get("items")
    if isinstance(items, dict) and "pattern" in items:
        notes.append(f"each matches {code(items['pattern'])}")
    return ", ".join(notes)


def field_rows(schema: dict[str, Any], doc: Document) -> list[str] | None:
    """Table rows for an object schema's properties, or None if it is not a plain object."""
    schema = flatten(schema, doc)
    properties = schema.get("properties")
    if schema.get("type") != "object" or not properties:
        return None
    required = set(schema.get("required", []))
    rows = ["| Field | Type | Required | Description |", "|---|---|---|---|"]
    for name, sub in properties.items():
        described = sub.get("description", "")
        limits = constraints(sub)
        text = cell(described)
        if limits:
            text = f"{text} ({cell(limits)})" if text else cell(limits)
        rows.append(
            f"| {code(name)} | {type_of(sub, doc)} | {'yes' if name in required else 'no'} "
            f"| {text} |"
        )
    return rows


def flatten(schema: dict[str, Any], doc: Document) -> dict[str, Any]:
    """Merge ``allOf`` members (and follow references) into one object schema, for tables."""
    if "$ref" in schema:
        return flatten(doc.resolve(schema), doc)
    if "allOf" not in schema:
        return schema
    merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for member in schema["allOf"]:
        part = flatten(member, doc)
        for name, sub in part.get("properties", {}).items():
            merged["properties"][name] = {**merged["properties"].get(name, {}), **sub}
        merged["required"] += [r for r in part.get("required", []) if r not in merged["required"]]
    return merged


# -- rendering ---------------------------------------------------------------------------------


def render(data: dict[str, Any]) -> str:
    doc = Document(data)
    info = data["info"]
    lines: list[str] = [
        "---",
        "# Generated from idp/openapi.json by scripts/openapi_to_markdown.py: do not edit.",
        f"title: {json.dumps(info['title'] + ' HTTP reference')}",
        f"description: {json.dumps(info.get('summary', ''), ensure_ascii=False)}",
        "---",
        "",
        f"# {prose(info['title'])} HTTP reference",
        "",
        "This page is generated from the OpenAPI document `idp/openapi.json` (served at "
        "`GET /api/auth/openapi.json`) by `scripts/openapi_to_markdown.py`. Edit the document, "
        "then run `python scripts/openapi_to_markdown.py`.",
        "",
        f"OpenAPI {code(data['openapi'])}, version {code(info['version'])}.",
        "",
    ]
    if info.get("description"):
        lines += [prose(info["description"]), ""]
    lines += render_security(doc)
    lines += ["## Operations", ""]
    for tag in doc.tags():
        members = [(p, m, o) for p, m, o in doc.operations() if tag["name"] in o.get("tags", [])]
        if not members:
            continue
        lines += [f"- **{prose(tag['name'])}**"]
        for path, method, operation in members:
            heading = f"{method.upper()} {path}"
            lines += [f"  - [{code(heading)}](#{slug(heading)}): {cell(operation['summary'])}"]
    lines += [""]
    for tag in doc.tags():
        members = [(p, m, o) for p, m, o in doc.operations() if tag["name"] in o.get("tags", [])]
        if not members:
            continue
        lines += [f"## {prose(tag['name'])}", ""]
        if tag.get("description"):
            lines += [prose(tag["description"]), ""]
        for path, method, operation in members:
            lines += render_operation(doc, path, method, operation)
    lines += render_schemas(doc)
    return "\n".join(lines).rstrip("\n") + "\n"


def render_security(doc: Document) -> list[str]:
    schemes = doc.data.get("components", {}).get("securitySchemes", {})
    if not schemes:
        return []
    lines = ["## Authentication", "", "| Scheme | Kind | Description |", "|---|---|---|"]
    for name, scheme in schemes.items():
        if scheme["type"] == "apiKey":
            kind = f"{scheme['in']} {code(scheme['name'])}"
        elif scheme["type"] == "http":
            kind = f"HTTP {scheme['scheme']}"
        else:
            kind = scheme["type"]
        lines.append(f"| {code(name)} | {kind} | {cell(scheme.get('description', ''))} |")
    return [*lines, ""]


def security_text(operation: dict[str, Any]) -> str:
    requirements = operation.get("security")
    if not requirements:
        return "none"
    options = []
    for requirement in requirements:
        options.append(" and ".join(code(n) for n in requirement) if requirement else "none")
    return " or ".join(options)


def render_operation(doc: Document, path: str, method: str, operation: dict[str, Any]) -> list[str]:
    lines = [
        f"### `{method.upper()} {path}`",
        "",
        f"**{prose(operation['summary'])}**",
        "",
        f"Operation `{operation['operationId']}`. Authentication: {security_text(operation)}.",
        "",
    ]
    if operation.get("description"):
        lines += [prose(operation["description"]), ""]
    parameters = [doc.resolve(p) for p in operation.get("parameters", [])]
    if parameters:
        lines += [
            "#### Parameters",
            "",
            "| Name | In | Type | Required | Description |",
            "|---|---|---|---|---|",
        ]
        for p in parameters:
            lines.append(
                f"| {code(p['name'])} | {p['in']} | {type_of(p.get('schema', {}), doc)} "
                f"| {'yes' if p.get('required') else 'no'} | {cell(p.get('description', ''))} |"
            )
        lines.append("")
    body = operation.get("requestBody")
    if body:
        body = doc.resolve(body)
        required = "required" if body.get("required") else "optional"
        lines += ["#### Request body", ""]
        for media, content in body["content"].items():
            schema = content.get("schema", {})
            lines += [f"{code(media)} ({required}): {type_of(schema, doc)}.", ""]
            if body.get("description"):
                lines += [prose(body["description"]), ""]
            rows = field_rows(schema, doc)
            if rows:
                lines += [*rows, ""]
    lines += ["#### Responses", ""]
    for status, response in operation["responses"].items():
        lines += render_response(doc, status, response)
    return lines


def render_response(doc: Document, status: str, response: dict[str, Any]) -> list[str]:
    response = doc.resolve(response)
    description = response.get("description", "").strip()
    first, _, rest = description.partition("\n")
    lines = [f"**{status}**: {prose(first)}", ""]
    if rest.strip():
        lines += [prose(rest.strip()), ""]
    headers = response.get("headers", {})
    if headers:
        lines += ["| Header | Required | Value |", "|---|---|---|"]
        for name, header in headers.items():
            header = doc.resolve(header)
            value = header.get("description", "")
            schema = header.get("schema", {})
            if "const" in schema:
                value = f"{code(str(schema['const']))}. {value}"
            lines.append(
                f"| {code(name)} | {'yes' if header.get('required') else 'no'} | {cell(value)} |"
            )
        lines.append("")
    for media, content in response.get("content", {}).items():
        schema = content.get("schema", {})
        lines += [f"Body {code(media)}: {response_type(schema, doc)}.", ""]
    return lines


def response_type(schema: dict[str, Any], doc: Document) -> str:
    """Like :func:`type_of`, but spells out the error codes an ``allOf`` narrows to."""
    members = schema.get("allOf")
    if isinstance(members, list) and len(members) == 2 and "$ref" in members[0]:
        narrowed = members[1].get("properties", {})
        name = members[0]["$ref"].removeprefix(SCHEMA_PREFIX)
        parts = [
            f"{code(field)} = {code(sub['enum'][0])}"
            if len(sub["enum"]) == 1
            else f"{code(field)} one of {', '.join(code(v) for v in sub['enum'])}"
            for field, sub in narrowed.items()
            if "enum" in sub
        ]
        if parts:
            return f"[{name}](#{slug(name)}) with {'; '.join(parts)}"
    return type_of(schema, doc)


def render_schemas(doc: Document) -> list[str]:
    schemas = doc.data.get("components", {}).get("schemas", {})
    if not schemas:
        return []
    lines = ["## Schemas", ""]
    for name, schema in schemas.items():
        lines += [f"### {name}", ""]
        if schema.get("description"):
            lines += [prose(schema["description"]), ""]
        rows = field_rows(schema, doc)
        if rows:
            lines += [*rows, ""]
            if schema.get("additionalProperties") is False:
                lines += ["No other fields.", ""]
        elif "oneOf" in schema and all(field_rows(m, doc) for m in schema["oneOf"]):
            lines += ["One of these variants:", ""]
        else:
            lines += [f"Type: {type_of(schema, doc)}.", ""]
            limits = constraints(schema)
            if limits:
                lines += [f"Constraints: {prose(limits)}.", ""]
        if "oneOf" in schema and rows is None:
            for index, member in enumerate(schema["oneOf"], 1):
                member_rows = field_rows(member, doc)
                if member_rows:
                    lines += [f"Variant {index}:", "", *member_rows, ""]
    return lines


# -- command line ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--input", type=Path, default=DOCUMENT, help="the OpenAPI document")
    parser.add_argument("--output", type=Path, default=REFERENCE, help="the Markdown to write")
    parser.add_argument("--check", action="store_true", help="fail if the output is stale")
    args = parser.parse_args(argv)
    text = render(json.loads(args.input.read_text(encoding="utf-8")))
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
