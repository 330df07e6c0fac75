"""Every resource and data source in terraform/ against its provider's schema (the prebuilt
bindings of tests/infra/provider_schema.py): each argument and block it sets exists, where the
provider has it; every required one is set. What `terraform validate` would say about names and
shapes, without the providers (expressions are not evaluated; types are not checked)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.hcl import Terraform, load, one
from tests.infra.provider_schema import PACKAGES, Block, Schema, schemas

META = {"for_each", "count", "depends_on", "lifecycle", "provider", "provisioner", "connection"}


def provider_of(kind: str, body: dict[str, Any]) -> str:
    return str(body.get("provider") or kind.split("_", 1)[0])


def problems(schema: Schema, block: Block, body: dict[str, Any], where: str, root: bool) -> list[str]:
    found: list[str] = []
    set_here = set(body)
    for key, value in body.items():
        if root and key in META:
            continue
        if key == "dynamic":
            for entry in value:
                for name, spec in entry.items():
                    set_here.add(name)
                    if name not in block.arguments:
                        found.append(f"{where}: no block {name!r}")
                        continue
                    nested = schema.nested(block, name)
                    if nested is not None:
                        found += problems(schema, nested, one(spec["content"]), f"{where}.{name}", False)
            continue
        if key not in block.arguments:
            found.append(f"{where}: no argument {key!r}")
            continue
        nested = schema.nested(block, key)
        if nested is not None:
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    found += problems(schema, nested, item, f"{where}.{key}", False)
    missing = [name for name, (required, _) in block.arguments.items() if required and name not in set_here]
    found += [f"{where}: required {name!r} not set" for name in missing]
    return found


def declared(tf: Terraform) -> list[tuple[str, str, str, bool, dict[str, Any]]]:
    """(provider, kind, name, is a data source, body) of everything terraform/ declares."""
    items = [
        (provider_of(kind, body), kind, name, False, body)
        for kind, named in tf.resources.items()
        for name, body in named.items()
    ]
    items += [
        (provider_of(kind, body), kind, name, True, body)
        for kind, named in tf.data.items()
        for name, body in named.items()
    ]
    return items


@pytest.fixture(scope="module")
def found() -> dict[str, dict[tuple[str, bool], Schema | None]]:
    by_provider: dict[str, set[tuple[str, bool]]] = {}
    for provider, kind, _, data, _ in declared(load()):
        by_provider.setdefault(provider, set()).add((kind, data))
    return {provider: schemas(provider, kinds) for provider, kinds in by_provider.items()}


def test_every_resource_exists_in_its_provider_and_sets_only_its_arguments(found):
    errors = []
    for provider, kind, name, data, body in declared(load()):
        schema = found[provider][(kind, data)]
        where = f"{'data.' if data else ''}{kind}.{name}"
        if schema is None:
            what = "data source" if data else "resource"
            errors.append(f"{where}: {provider} {PACKAGES[provider][2]} has no such {what}")
            continue
        errors += problems(schema, schema.root, body, where, True)
    assert not errors, "\n".join(errors)


def test_the_schemas_are_those_of_the_pinned_providers(found):
    for provider, schemas_found in found.items():
        expected = PACKAGES[provider][2]
        sources = {s.root.provider for s in schemas_found.values() if s is not None}
        assert sources == {expected}, (provider, sources)


def test_the_check_catches_a_misnamed_argument_and_a_missing_one(found):
    schema = found["google"][("google_storage_bucket", False)]
    assert schema is not None
    body = {
        "name": "b",
        "location": "EU",
        "lifecycle_rule": [{"action": [{"type": "Delete"}], "condition": [{"age": 1}]}],
    }
    assert problems(schema, schema.root, body, "ok", True) == []
    wrong = {"name": "b", "locaton": "EU", "versioning": [{"enabld": True}]}
    assert problems(schema, schema.root, wrong, "x", True) == [
        "x: no argument 'locaton'",
        "x.versioning: no argument 'enabld'",
        "x.versioning: required 'enabled' not set",
        "x: required 'location' not set",
    ]
