"""The models bucket (Cloud Storage edge): copy a prepared models prefix to local disk once.

    gs://<bucket>/<prefix>/manifest.json   lists every file, with its size and SHA-256
    gs://<bucket>/<prefix>/<style>/...     as gpu_service/layout.py describes

Only what the manifest lists is copied (prepare_models writes it last, so a half-finished
upload is never read), with several downloads in flight: a cold start waits on this.
Cloud Storage's client checks each download's checksum itself.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

from google.cloud import storage

from gpu_service import layout

log = logging.getLogger(__name__)

DOWNLOAD_THREADS = 8
TIMEOUT_SECONDS = 600.0  # one file; a UNet is 1.7 GB


class ModelsBucketError(RuntimeError):
    """The gs:// prefix is not a prepared models folder."""


def parse_gs_uri(uri: str) -> tuple[str, str]:
    """("bucket", "prefix") of gs://bucket/prefix; the prefix may be empty."""
    if not uri.startswith("gs://"):
        raise ValueError(f"not a gs:// URI: {uri!r}")
    bucket, _, prefix = uri[len("gs://") :].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri!r}")
    return bucket, prefix.strip("/")


def download_models(uri: str, destination: Path, *, client: storage.Client | None = None) -> Path:
    """The models at `uri`, copied under `destination`; returns the local folder.

    A file already there with the manifest's size is kept, so a restarted process with the
    same disk (a local run, a mounted cache) does not download again.
    """
    bucket_name, prefix = parse_gs_uri(uri)
    client = client or storage.Client()
    bucket = client.bucket(bucket_name)
    manifest_blob = bucket.blob(_join(prefix, layout.MANIFEST))
    try:
        manifest_bytes = manifest_blob.download_as_bytes(timeout=60)
    except Exception as error:  # NotFound, Forbidden, ...: the message says which
        raise ModelsBucketError(f"{uri} has no readable {layout.MANIFEST}: {error}") from error
    manifest: dict[str, Any] = json.loads(manifest_bytes)
    files: dict[str, dict[str, Any]] = manifest.get("files", {})
    started = time.perf_counter()
    destination.mkdir(parents=True, exist_ok=True)

    def fetch(relative: str) -> int:
        target = destination / PurePosixPath(relative)
        if target.is_file() and target.stat().st_size == files[relative]["size"]:
            return 0
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        bucket.blob(_join(prefix, relative)).download_to_filename(str(partial), timeout=TIMEOUT_SECONDS)
        partial.replace(target)  # a crash mid-download leaves no file that looks complete
        return int(files[relative]["size"])

    with ThreadPoolExecutor(DOWNLOAD_THREADS, thread_name_prefix="models-download") as pool:
        copied = sum(pool.map(fetch, sorted(files)))
    (destination / layout.MANIFEST).write_bytes(manifest_bytes)
    log.info(
        "models copied from %s",
        uri,
        extra={
            "duration_ms": round((time.perf_counter() - started) * 1000),
            "bytes": copied,
            "files": len(files),
        },
    )
    return destination


def _join(prefix: str, relative: str) -> str:
    return f"{prefix}/{relative}" if prefix else relative
