"""Prepare the models bucket: `python -m gpu_service.prepare_models --dest gs://BUCKET/PREFIX`.

For operators, run once per change of a model in styles.py (not by the service, which never
talks to the Hub). It fetches every style's model, VAE, safety checker and LoRAs from the
Hugging Face Hub at their revisions (only the diffusers safetensors files), assembles one
folder per style in the layout the service loads (gpu_service/layout.py), converts the
weights to float16 (what the GPU runs; half the bytes to store, copy and load), and uploads
it all with a manifest.json that records the commit each revision resolved to and the
SHA-256 of every file. The manifest is written last: the service reads only what it lists.

Upload to a new prefix for each change (gs://bucket/2026-07-01) and point MODEL_DIR at it:
instances still starting from the old prefix are not disturbed.

    python -m gpu_service.prepare_models --dest gs://imagebot-models-prod/2026-07-01
    python -m gpu_service.prepare_models --dest /srv/models --styles pixel   # a local folder

Gated or private repositories need HF_TOKEN in the environment; HF_ENDPOINT (or --hub-endpoint)
points at a Hub mirror.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gpu_service import layout, logs
from gpu_service.styles import SAFETY_CHECKER, STYLES_BY_ID, ModelSource, Style, loras_for

log = logging.getLogger("gpu_service.prepare_models")

MANIFEST_FORMAT = 1
UPLOAD_TIMEOUT_SECONDS = 1800.0  # one file; a float32 UNet is 3.4 GB


class PrepareError(RuntimeError):
    """A model that cannot be prepared as the styles describe it."""


@dataclass(frozen=True)
class Snapshot:
    folder: Path
    commit: str


class Hub:
    """The Hugging Face Hub, through huggingface_hub.snapshot_download (cached in `cache_dir`)."""

    def __init__(self, cache_dir: Path, endpoint: str | None = None) -> None:
        self._cache_dir = cache_dir
        self._endpoint = endpoint
        self._fetched: dict[tuple[str, str, tuple[str, ...]], Snapshot] = {}

    def fetch(self, source: ModelSource, patterns: Sequence[str]) -> Snapshot:
        key = (source.repo, source.revision, tuple(patterns))
        if key not in self._fetched:
            from huggingface_hub import snapshot_download

            log.info("fetching %s@%s: %s", source.repo, source.revision, ", ".join(patterns))
            folder = Path(
                snapshot_download(
                    source.repo,
                    revision=source.revision,
                    allow_patterns=list(patterns),
                    cache_dir=self._cache_dir,
                    endpoint=self._endpoint,
                )
            )
            # The cache keeps each snapshot under snapshots/<commit>: the revision, resolved.
            self._fetched[key] = Snapshot(folder, folder.name)
        return self._fetched[key]


def prepare(
    styles: Sequence[Style],
    staging: Path,
    hub: Hub,
    *,
    half: bool = True,
    with_safety_checker: bool = True,
) -> dict[str, Any]:
    """Assemble the models folder in `staging`; returns the manifest (also written there)."""
    sources: list[dict[str, Any]] = []

    def record(role: str, source: ModelSource, snapshot: Snapshot) -> None:
        if not source.pinned:
            log.warning(
                "%s: %s is not pinned; %s resolved to %s (pin it in gpu_service/styles.py)",
                role,
                source.repo,
                source.revision,
                snapshot.commit,
            )
        sources.append(
            {"role": role, "repo": source.repo, "revision": source.revision, "commit": snapshot.commit}
        )

    for style in styles:
        target = staging / layout.style_dir(style.id)
        own = (
            layout.REQUIRED_COMPONENTS
            if style.vae is None
            else tuple(c for c in layout.REQUIRED_COMPONENTS if c != "vae")
        )
        _fetch_into(hub, style.model, own, target, f"{style.id} model", record, with_index=True)
        if style.vae is not None:
            _fetch_into(hub, style.vae, ("vae",), target, f"{style.id} vae", record, flat=True)
        index = json.loads((target / layout.MODEL_INDEX).read_text())
        # SDXL pipelines have no safety checker slot: it runs standalone (safety/ below).
        for component in layout.SAFETY_COMPONENTS:
            index.pop(component, None)
        index.pop("requires_safety_checker", None)
        (target / layout.MODEL_INDEX).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")

    if with_safety_checker:
        _fetch_into(
            hub,
            SAFETY_CHECKER,
            layout.SAFETY_COMPONENTS,
            staging / layout.safety_dir(),
            "safety checker",
            record,
        )
    if half:
        for weights in sorted(staging.rglob(f"*{layout.WEIGHTS_SUFFIX}")):
            _to_half(weights)

    for name, lora in loras_for(styles).items():
        if lora.source.weight_name is None:
            raise PrepareError(f"LoRA {name}: its ModelSource needs the weight_name of its file")
        snapshot = hub.fetch(lora.source, [lora.source.weight_name])
        _require(snapshot, lora.source, [lora.source.weight_name])
        record(f"lora {name}", lora.source, snapshot)
        _copy(snapshot.folder, staging / layout.lora_dir(name), [(lora.source.weight_name,) * 2])

    manifest = {
        "format": MANIFEST_FORMAT,
        "prepared_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dtype": "float16" if half else "as published",
        "styles": sorted(style.id for style in styles),
        "sources": sources,
        "files": {
            path.relative_to(staging).as_posix(): {
                "size": path.stat().st_size,
                "sha256": layout.file_sha256(path),
            }
            for path in sorted(staging.rglob("*"))
            if path.is_file() and path.name != layout.MANIFEST
        },
    }
    (staging / layout.MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def publish(staging: Path, dest: str, *, storage_client: Any = None) -> list[str]:
    """Copy the prepared folder to `dest` (gs://bucket/prefix or a folder), manifest last.
    Returns the files written: unchanged ones are skipped, so a re-run uploads only changes."""
    files = sorted(p for p in staging.rglob("*") if p.is_file() and p.name != layout.MANIFEST)
    ordered = [*files, staging / layout.MANIFEST]
    written: list[str] = []
    if dest.startswith("gs://"):
        from google.cloud import storage

        from gpu_service.model_store import parse_gs_uri

        bucket_name, prefix = parse_gs_uri(dest)
        bucket = (storage_client or storage.Client()).bucket(bucket_name)
        existing = {
            blob.name: blob.md5_hash for blob in bucket.list_blobs(prefix=f"{prefix}/" if prefix else None)
        }
        for path in ordered:
            name = "/".join(filter(None, (prefix, path.relative_to(staging).as_posix())))
            if existing.get(name) == _md5_base64(path):
                continue
            log.info("uploading %s", name)
            bucket.blob(name).upload_from_filename(str(path), timeout=UPLOAD_TIMEOUT_SECONDS)
            written.append(path.relative_to(staging).as_posix())
    else:
        root = Path(dest)
        for path in ordered:
            target = root / path.relative_to(staging)
            if (
                target.is_file()
                and target.stat().st_size == path.stat().st_size
                and layout.file_sha256(target) == layout.file_sha256(path)
            ):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            written.append(path.relative_to(staging).as_posix())
    return written


def main(argv: Sequence[str] | None = None, *, storage_client: Any = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gpu_service.prepare_models", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--dest", required=True, help="gs://bucket/prefix or a local folder")
    parser.add_argument(
        "--styles", default=",".join(STYLES_BY_ID), help="comma-separated style ids (default: all)"
    )
    parser.add_argument("--work-dir", help="where to download and assemble (default: a temporary folder)")
    parser.add_argument("--keep-dtype", action="store_true", help="keep the published float32 weights")
    parser.add_argument("--no-safety-checker", action="store_true", help="leave the safety checker out")
    parser.add_argument("--hub-endpoint", default=None, help="a Hub mirror (default: HF_ENDPOINT or the Hub)")
    parser.add_argument(
        "--quiet", action="store_true", help="no download progress bars (for a job's log, say)"
    )
    args = parser.parse_args(argv)
    logs.configure()
    # One line per HTTP request is noise; a progress bar per file (on stderr) is what an
    # operator waiting for 15 GB wants, unless the output is a log.
    for name in ("httpx", "httpx2", "huggingface_hub"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    if args.quiet:
        disable_progress_bars()
    else:
        enable_progress_bars()
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        # The service's container sets it; preparing is the one step that needs the Hub.
        log.critical("HF_HUB_OFFLINE is set: run with HF_HUB_OFFLINE=0 to reach the Hub")
        return 2
    unknown = [s for s in args.styles.split(",") if s.strip() not in STYLES_BY_ID]
    if unknown:
        parser.error(f"unknown styles {unknown}; known: {', '.join(STYLES_BY_ID)}")
    styles = [STYLES_BY_ID[s.strip()] for s in args.styles.split(",")]
    with tempfile.TemporaryDirectory(prefix="prepare-models-") as scratch:
        work = Path(args.work_dir or scratch)
        staging = work / "staging"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            manifest = prepare(
                styles,
                staging,
                Hub(work / "hub-cache", args.hub_endpoint),
                half=not args.keep_dtype,
                with_safety_checker=not args.no_safety_checker,
            )
            written = publish(staging, args.dest, storage_client=storage_client)
        except PrepareError as error:
            log.critical("cannot prepare the models: %s", error)
            return 1
    log.info(
        "models prepared in %s: %d files, %d written",
        args.dest,
        len(manifest["files"]),
        len(written),
        extra={"files": len(manifest["files"])},
    )
    for source in manifest["sources"]:
        log.info("%s: %s@%s = %s", source["role"], source["repo"], source["revision"], source["commit"])
    return 0


def _fetch_into(
    hub: Hub,
    source: ModelSource,
    components: tuple[str, ...],
    target: Path,
    role: str,
    record: Any,
    *,
    with_index: bool = False,
    flat: bool = False,
) -> None:
    """The components' files of `source` (its variant's weights, saved under the plain names)
    into `target`; `flat`: a repository that is one component (a VAE) at its top level."""
    names = [
        (f"{component}/{name}", layout.variant_name(f"{component}/{name}", source.variant))
        for component in components
        for name in layout.COMPONENT_FILES[component]
    ]
    if flat:
        names = [(plain, fetched.split("/", 1)[1]) for plain, fetched in names]
    patterns = [fetched for _, fetched in names] + ([layout.MODEL_INDEX] if with_index else [])
    snapshot = hub.fetch(source, patterns)
    required = [fetched for plain, fetched in names if plain.split("/")[0] not in layout.TOKENIZERS]
    _require(snapshot, source, required + ([layout.MODEL_INDEX] if with_index else []), components)
    record(role, source, snapshot)
    _copy(snapshot.folder, target, [(fetched, plain) for plain, fetched in names])
    if with_index:
        _copy(snapshot.folder, target, [(layout.MODEL_INDEX, layout.MODEL_INDEX)])


def _require(
    snapshot: Snapshot, source: ModelSource, files: Sequence[str], components: Sequence[str] = ()
) -> None:
    missing = [name for name in files if not (snapshot.folder / name).is_file()]
    for component in layout.TOKENIZERS:
        # Every tokenizer file is optional on its own; one of the two forms must be there.
        tokenizer = snapshot.folder / component
        if component in components and not (
            (tokenizer / "tokenizer.json").is_file() or (tokenizer / "vocab.json").is_file()
        ):
            missing.append(f"{component}/vocab.json (or tokenizer.json)")
    if missing:
        raise PrepareError(
            f"{source.repo}@{snapshot.commit} lacks {', '.join(missing)}: not a diffusers repository"
            " with safetensors weights (single-file checkpoints and pickles are not taken)"
        )


def _copy(source: Path, target: Path, names: Sequence[tuple[str, str]]) -> None:
    """(name in the snapshot, name in the target) pairs; files the snapshot lacks are skipped."""
    for fetched, plain in names:
        found = source / fetched
        if found.is_file():
            (target / plain).parent.mkdir(parents=True, exist_ok=True)
            # The Hub cache links snapshot files to blobs: copy the content, not the link.
            shutil.copyfile(found.resolve(), target / plain)


def _to_half(path: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    tensors = load_file(path)
    if all(t.dtype != torch.float32 for t in tensors.values()):
        return
    half = {name: t.half() if t.dtype == torch.float32 else t for name, t in tensors.items()}
    save_file(half, path, metadata={"format": "pt"})


def _md5_base64(path: Path) -> str:
    digest = hashlib.md5()  # noqa: S324  # what Cloud Storage reports, for skipping unchanged files
    with path.open("rb") as file:
        while chunk := file.read(1 << 24):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode()


if __name__ == "__main__":
    sys.exit(main())
