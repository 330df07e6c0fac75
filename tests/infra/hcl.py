"""terraform/ read with python-hcl2: resources, locals and variables as plain dicts.

Values are as written, not evaluated: a reference reads "${google_storage_bucket.images.name}".
Blocks come back as lists of dicts (a block may repeat); `one()` takes the single one.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

from tests.infra.tools import ROOT

TERRAFORM = ROOT / "terraform"
OPTIONS = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)


def _unquote(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == '"' else key


@dataclass
class Terraform:
    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.resources.get(kind, {})

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        return self.resources[kind][name]


def one(blocks: Any) -> dict[str, Any]:
    """The single block of a repeated-block list (or the dict itself)."""
    if isinstance(blocks, dict):
        return blocks
    assert isinstance(blocks, list) and len(blocks) == 1, f"expected one block, got {blocks!r}"
    return blocks[0]


@cache
def load(directory: Path = TERRAFORM) -> Terraform:
    tf = Terraform()
    for path in sorted(directory.glob("*.tf")):
        doc = hcl2.loads(path.read_text(), serialization_options=OPTIONS)
        for block in doc.get("resource", []):
            for kind, named in block.items():
                for name, body in named.items():
                    tf.resources.setdefault(_unquote(kind), {})[_unquote(name)] = body
        for block in doc.get("data", []):
            for kind, named in block.items():
                for name, body in named.items():
                    tf.data.setdefault(_unquote(kind), {})[_unquote(name)] = body
        for block in doc.get("locals", []):
            tf.locals.update(block)
        for block in doc.get("variable", []):
            for name, body in block.items():
                tf.variables[_unquote(name)] = body
    return tf


@dataclass(frozen=True)
class Function:
    """One deployed function: a resource of its own, or one key of the `pushed` for_each."""

    entry_point: str
    name: str  # the deployed name, with dashes
    address: str  # how other resources refer to it: `google_cloudfunctions2_function.<address>`
    body: dict[str, Any]  # the resource block as written (for `pushed`, shared by every key)


def functions(tf: Terraform) -> dict[str, Function]:
    """Every google_cloudfunctions2_function by entry point, the for_each one expanded."""
    found: dict[str, Function] = {}
    for resource, body in tf.of_type("google_cloudfunctions2_function").items():
        entry_point = one(body["build_config"])["entry_point"]
        if body.get("for_each") == "${local.pushed_functions}":
            assert entry_point == "${each.key}" and body["name"] == '${replace(each.key, "_", "-")}'
            for key in tf.locals["pushed_functions"]:
                found[key] = Function(key, key.replace("_", "-"), f'{resource}["{key}"]', body)
        else:
            found[entry_point] = Function(entry_point, body["name"], resource, body)
    return found


def load_tfvars(path: Path) -> dict[str, Any]:
    return hcl2.loads(path.read_text(), serialization_options=OPTIONS)


# --- the code side -------------------------------------------------------------------------------


def entry_points(main: Path = ROOT / "functions" / "main.py") -> dict[str, str]:
    """{function name: "http" | "cloud_event"} for every function decorated functions_framework.*
    or functions_framework.aio.* (an ASGI entry point, `async def`)."""
    found: dict[str, str] = {}
    for node in ast.parse(main.read_text()).body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for decorator in node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if isinstance(target, ast.Attribute) and ast.unparse(target.value) in (
                "functions_framework",
                "functions_framework.aio",
            ):
                found[node.name] = target.attr
    return found


def env_names_read(config: Path) -> set[str]:
    """Environment variable names a config.py reads: every ALL_CAPS string that is the first
    argument of a call (env.get("X"), required("X"), a helper's text("X")) or a subscript
    (environ["X"]). Config modules name nothing else that way."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(config.read_text())):
        if isinstance(node, ast.Call) and node.args:
            candidate = node.args[0]
        elif isinstance(node, ast.Subscript):
            candidate = node.slice
        else:
            continue
        is_text = isinstance(candidate, ast.Constant) and isinstance(candidate.value, str)
        if is_text and re.fullmatch(r"[A-Z][A-Z0-9_]+", candidate.value):
            names.add(candidate.value)
    return names


def secret_env_names(config: Path = ROOT / "functions" / "imagebot" / "config.py") -> set[str]:
    """Env names of the Settings fields declared `field(repr=False)`: the secrets."""
    tree = ast.parse(config.read_text())
    secret_fields = {
        node.target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and isinstance(node.value, ast.Call)
        and any(
            k.arg == "repr" and isinstance(k.value, ast.Constant) and k.value.value is False
            for k in node.value.keywords
        )
    }
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in secret_fields:
            for inner in ast.walk(node.value):
                if isinstance(inner, ast.Call) and inner.args and isinstance(inner.args[0], ast.Constant):
                    names.add(inner.args[0].value)
    return names
