"""The providers' resource schemas, from the prebuilt CDK for Terraform bindings on npm, standing
in for the `terraform validate` that cannot run here (no provider downloads).

Each binding package (`@cdktf/provider-google`, `-google-beta`, `-time`, `-archive`) is generated
from its provider's schema: one `lib/<resource>/index.d.ts` per resource and data source, whose
interfaces hold every argument and nested block, with the argument's Terraform name in its docs
link (`…/docs/resources/storage_bucket#force_destroy StorageBucket#force_destroy`) and `?` on the
optional ones. The packages are fetched once with `npm pack` (about 65 MB in all, seconds) into
the tools cache (tests/infra/tools.py), keyed by version; only the files a test needs are read.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

from tests.infra.tools import tool_cache

# The binding versions built from the provider versions terraform/versions.tf allows: google and
# google-beta 6.50.0 (~> 6.40), time 0.13.1 (~> 0.12), archive 2.7.1 (~> 2.7). The test checks
# the docs links name those.
PACKAGES = {
    "google": ("@cdktf/provider-google", "16.12.1", "hashicorp/google/6.50.0"),
    "google-beta": ("@cdktf/provider-google-beta", "16.12.1", "hashicorp/google-beta/6.50.0"),
    "time": ("@cdktf/provider-time", "11.0.1", "hashicorp/time/0.13.1"),
    "archive": ("@cdktf/provider-archive", "11.0.1", "hashicorp/archive/2.7.1"),
}
_INTERFACE = re.compile(r"^export interface (\w+)( extends [^{]+)? \{\n(.*?)^\}", re.M | re.S)
_PROPERTY = re.compile(
    r"\{@link https://registry\.terraform\.io/providers/([\w/.-]+)/docs/[\w-]+/\w+#(\w+) [\w#]+\}"
    r"(?:(?!readonly ).)*?\*/\s*readonly (\w+)(\??): ([^;]+);",
    re.S,
)


@dataclass
class Block:
    """One interface: the arguments and nested blocks a resource (or a block of it) takes."""

    name: str
    arguments: dict[str, tuple[bool, str]] = field(default_factory=dict)  # terraform name → (required, type)
    provider: str = ""


@dataclass
class Schema:
    root: Block
    blocks: dict[str, Block]

    def nested(self, block: Block, argument: str) -> Block | None:
        """The block an argument opens, if it is a nested block (not a plain or map value)."""
        type_ = block.arguments[argument][1]
        for name in re.findall(r"\w+", type_):
            if name in self.blocks:
                return self.blocks[name]
        return None


def _package(provider: str) -> Path:
    """The package's tarball in the tools cache, fetched with `npm pack` the first time."""
    name, version, _ = PACKAGES[provider]
    cache_dir = tool_cache() / "provider-schema"
    tarball = cache_dir / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"  # npm's own name
    if tarball.exists():
        return tarball
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not on PATH: the provider schemas come from npm (@cdktf/provider-*)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "pack", f"{name}@{version}", "--silent", f"--pack-destination={cache_dir}"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0 or not tarball.exists():
        pytest.fail(f"npm pack {name}@{version} failed: {done.stderr[-2000:]}")
    return tarball


@cache
def _declarations(provider: str, dirs: frozenset[str]) -> dict[str, str]:
    """lib/<dir>/index.d.ts of the wanted resources and data sources, by <dir>: one pass over
    the tarball, keeping only those."""
    found: dict[str, str] = {}
    with tarfile.open(_package(provider)) as archive:
        for member in archive:
            m = re.fullmatch(r"package/lib/([\w-]+)/index\.d\.ts", member.name)
            if m and m.group(1) in dirs:
                extracted = archive.extractfile(member)
                assert extracted is not None
                found[m.group(1)] = extracted.read().decode()
    return found


def candidates(provider: str, kind: str, data: bool = False) -> list[str]:
    """Where a binding package keeps `kind`: google_storage_bucket → storage-bucket (google), or
    google-storage-bucket (google-beta); data sources under data-<kind>."""
    full = kind.replace("_", "-")
    if data:
        return [f"data-{full}"]
    return [kind.removeprefix(f"{provider.split('-')[0]}_").replace("_", "-"), full]


def schemas(provider: str, kinds: set[tuple[str, bool]]) -> dict[tuple[str, bool], Schema | None]:
    """The schema of each (kind, is a data source) of a provider; None where it has none."""
    wanted = frozenset(c for kind, data in kinds for c in candidates(provider, kind, data))
    declarations = _declarations(provider, wanted)
    found: dict[tuple[str, bool], Schema | None] = {}
    for kind, data in kinds:
        text = next((declarations[c] for c in candidates(provider, kind, data) if c in declarations), None)
        found[(kind, data)] = None if text is None else _parse(kind, text)
    return found


def _parse(kind: str, text: str) -> Schema:
    blocks: dict[str, Block] = {}
    roots = []
    for name, extends, body in _INTERFACE.findall(text):
        block = Block(name)
        if "TerraformMetaArguments" in extends:  # the resource's own arguments, not a block's
            roots.append(block)
        for source, argument, _camel, optional, type_ in _PROPERTY.findall(body):
            block.provider = source
            block.arguments[argument] = (optional != "?", type_)
        blocks[name] = block
    assert len(roots) == 1, f"{kind}: expected one resource interface, found {[b.name for b in roots]}"
    return Schema(roots[0], blocks)
