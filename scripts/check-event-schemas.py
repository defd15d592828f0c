#!/usr/bin/env python3
"""Checks ledger event payloads against Schemas/events/<TypeName>.schema.json.

Usage: scripts/check-event-schemas.py [--schemas SCHEMA_DIR] DIR

Every regular file in DIR (names starting with '.' are skipped) must be named
<n>-<TypeName>.json, where <n> is a number (the journal sequence, for example) and
<TypeName> is a ledger event type with a schema. Each file holds one event's payload
exactly as the journal stores it (the JSON that Foundation's JSONEncoder wrote); it is
validated against <TypeName>.schema.json, whose relative $refs (common.schema.json) are
resolved from the schema directory.

Prints one line per failure, `FILE: JSON-PATH: MESSAGE`, and exits with
  0  every file is valid,
  1  any failure: an invalid payload, a type with no schema, a file that is not JSON or
     not named <n>-<TypeName>.json, a schema that is not valid JSON Schema, or DIR
     missing or empty,
  2  the checker cannot run: the jsonschema package is not installed, or bad usage.
"""

import argparse
import json
import pathlib
import re
import sys

try:
    import jsonschema
    from jsonschema import Draft202012Validator, validators
    from referencing import Registry, Resource
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012
except ImportError:
    print("check-event-schemas: the jsonschema package is not installed: pip install jsonschema", file=sys.stderr)
    sys.exit(2)

FILE_NAME = re.compile(r"^([0-9]+)-([A-Za-z][A-Za-z0-9]*)\.json$")
SCHEMA_SUFFIX = ".schema.json"
DEFAULT_SCHEMAS = pathlib.Path(__file__).resolve().parent.parent / "Schemas" / "events"


def ecma_pattern(pattern):
    """JSON Schema patterns are ECMA-262 regular expressions, in which `$` matches only at the
    very end of the string. Python's `$` also matches before a final newline, so `^[a-z]+$`
    would accept "abc\\n". Rewrite every `$` outside a character class as `\\Z` (end of string)."""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            char = r"\Z"
        out.append(char)
        i += 1
    return "".join(out)


_compiled = {}


def pattern_keyword(validator, pattern, instance, schema):
    if not validator.is_type(instance, "string"):
        return
    regex = _compiled.get(pattern)
    if regex is None:
        regex = _compiled[pattern] = re.compile(ecma_pattern(pattern))
    if not regex.search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_properties = Draft202012Validator.VALIDATORS["properties"]


def properties_keyword(validator, properties, instance, schema):
    """`properties` with `false` subschemas (a property that must be absent) reported at the
    property's own path; jsonschema reports them at the parent object's path."""
    if not validator.is_type(instance, "object"):
        return
    for name, subschema in properties.items():
        if subschema is False and name in instance:
            yield jsonschema.ValidationError(f"{name!r} is not allowed here (found {instance[name]!r})", path=[name])
    yield from _properties(validator, {k: v for k, v in properties.items() if v is not False}, instance, schema)


EventValidator = validators.extend(Draft202012Validator, {"pattern": pattern_keyword, "properties": properties_keyword})


MESSAGE_CHARS_MAX = 500


def message(error):
    """jsonschema's message on one line, without a whole array or string for a count, and cut
    short when it quotes a long value."""
    if error.validator in ("minItems", "maxItems") and isinstance(error.instance, list):
        return f"has {len(error.instance)} item(s); {error.validator} is {error.validator_value}"
    if error.validator in ("minLength", "maxLength") and isinstance(error.instance, str):
        return f"has {len(error.instance)} character(s); {error.validator} is {error.validator_value}"
    text = " ".join(error.message.split("\n"))
    if len(text) > MESSAGE_CHARS_MAX:
        text = text[:MESSAGE_CHARS_MAX - 20] + " ... " + text[-15:]
    return text


def no_duplicate_keys(pairs):
    """Python keeps the last of two equal keys; Swift's JSONDecoder may not. Either way the bytes
    are not what JSONEncoder writes, so they are refused."""
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def no_constants(name):
    raise ValueError(f"{name} is not JSON")


def load_json(path):
    with open(path, "rb") as file:
        data = file.read()
    return json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicate_keys, parse_constant=no_constants)


def load_schemas(schema_dir, report):
    """Every *.schema.json in schema_dir, checked against the draft 2020-12 meta-schema, and a
    registry in which each is known by its file name (the URI a relative $ref resolves to from
    a schema that has no $id)."""
    schemas = {}
    for path in sorted(schema_dir.glob("*" + SCHEMA_SUFFIX)):
        try:
            schema = load_json(path)
            Draft202012Validator.check_schema(schema)
        except (ValueError, OSError) as error:
            report(path, "$", f"schema is not valid JSON: {error}")
            continue
        except jsonschema.SchemaError as error:
            report(path, error.json_path, f"schema is not valid JSON Schema 2020-12: {error.message}")
            continue
        schemas[path.name] = schema
    registry = Registry().with_resources(
        (name, Resource.from_contents(schema, default_specification=DRAFT202012)) for name, schema in schemas.items())
    for name, schema in list(schemas.items()):
        resolver = registry.resolver(base_uri=name)
        for ref in references(schema):
            try:
                resolver.lookup(ref)
            except Unresolvable:
                report(schema_dir / name, "$", f"$ref {ref!r} does not resolve")
                del schemas[name]
                break
    return schemas, registry


def references(schema):
    """Every $ref in a schema (none of ours has an $id below its root, so all share its base)."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from references(value)


def path_key(path):
    """Sorts array indices as numbers and keys as text."""
    return [(0, part, "") if isinstance(part, int) else (1, 0, part) for part in path]


def main():
    parser = argparse.ArgumentParser(description="Validate ledger event payloads <n>-<TypeName>.json against Schemas/events.")
    parser.add_argument("dir", type=pathlib.Path, help="directory of <n>-<TypeName>.json payload files")
    parser.add_argument("--schemas", type=pathlib.Path, default=DEFAULT_SCHEMAS,
                        help=f"schema directory (default: {DEFAULT_SCHEMAS})")
    arguments = parser.parse_args()

    failures = 0

    def report(path, json_path, message):
        nonlocal failures
        failures += 1
        print(f"{path}: {json_path}: {message}")

    if not arguments.schemas.is_dir():
        report(arguments.schemas, "$", "schema directory not found")
        return 1
    schemas, registry = load_schemas(arguments.schemas, report)

    if not arguments.dir.is_dir():
        report(arguments.dir, "$", "not a directory")
        return 1
    files = []
    for path in arguments.dir.iterdir():
        if path.name.startswith("."):
            continue
        if not path.is_file():
            report(path, "$", "not a regular file")
            continue
        match = FILE_NAME.match(path.name)
        if not match:
            report(path, "$", "file name is not <n>-<TypeName>.json")
            continue
        files.append((int(match.group(1)), path.name, path, match.group(2)))
    if not files:
        report(arguments.dir, "$", "no <n>-<TypeName>.json files to check")

    validators_by_type = {}
    checked = 0
    for _, _, path, type_name in sorted(files):
        schema_name = type_name + SCHEMA_SUFFIX
        if type_name == "common" or not (arguments.schemas / schema_name).is_file():
            report(path, "$", f"no schema for event type {type_name} ({arguments.schemas / schema_name})")
            continue
        if schema_name not in schemas:
            report(path, "$", f"the schema of {type_name} is broken (reported above); not checked")
            continue
        try:
            payload = load_json(path)
        except (ValueError, OSError) as error:
            report(path, "$", f"not JSON: {error}")
            continue
        validator = validators_by_type.get(type_name)
        if validator is None:
            validator = validators_by_type[type_name] = EventValidator(schemas[schema_name], registry=registry)
        try:
            errors = sorted(validator.iter_errors(payload), key=lambda e: (path_key(e.absolute_path), e.message))
        except Unresolvable as error:
            report(path, "$", f"schema {schema_name} has a $ref that does not resolve: {error}")
            continue
        for error in errors:
            report(path, error.json_path, message(error))
        checked += 1

    if failures:
        print(f"{failures} failure(s); {checked} of {len(files)} file(s) checked", file=sys.stderr)
        return 1
    print(f"all {checked} event payload(s) valid", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
