"""The images bucket: a job's input, its candidates, and its output object
`outputs/<job_id>.<ext>`, the key that makes generation idempotent.

The output's creation is the event that triggers delivery (Eventarc object.finalized), so it
is written once and never overwritten: an overwrite would finalize a second generation of the
object and deliver the photo twice. A job has one output whatever its extension, so every
check looks for all of them. A grid job's candidates are written before its output (the
collage), so that a finalized output means every candidate is there.
"""

from __future__ import annotations

import logging

from google.api_core.exceptions import NotFound, PreconditionFailed
from google.cloud import storage

from gpu_service.contract import (
    GenerationJob,
    candidate_object_name,
    output_metadata,
    output_object_name,
    output_object_names,
)
from gpu_service.images import GeneratedImage
from gpu_service.inputs import MAX_BYTES
from gpu_service.refusals import BadInput

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 60.0


class OutputBucket:
    def __init__(self, bucket: storage.Bucket, timeout: float = TIMEOUT_SECONDS) -> None:
        self._bucket = bucket
        self._timeout = timeout

    def existing_output(self, job_id: str) -> str | None:
        """The name of the job's output object, if one exists under any extension."""
        names = set(output_object_names(job_id))
        # One listing instead of a request per extension; "outputs/<job_id>." cannot match
        # another job's objects, because a job id has no dot.
        prefix = f"outputs/{job_id}."
        for blob in self._bucket.list_blobs(prefix=prefix, timeout=self._timeout):
            if blob.name in names:
                return str(blob.name)
        return None

    def output_exists(self, job_id: str) -> bool:
        return self.existing_output(job_id) is not None

    def read_input(self, name: str) -> bytes | None:
        """The input object's bytes, or None if it is gone (a lifecycle rule deletes inputs
        after a few days). Its size is checked before it is downloaded."""
        blob = self._bucket.get_blob(name, timeout=self._timeout)
        if blob is None:
            return None
        if blob.size is not None and blob.size > MAX_BYTES:
            raise BadInput(f"{blob.size} bytes")
        try:
            data: bytes = blob.download_as_bytes(timeout=self._timeout)
        except NotFound:  # deleted between the two requests
            return None
        return data

    def upload_output(self, job: GenerationJob, image: GeneratedImage) -> bool:
        """Write the picture with its contract metadata; False if the job had an output already."""
        if self.output_exists(job.job_id):
            # Cloud Storage's precondition below covers the same name only; another extension
            # (a style whose encoding changed between deployments) is caught here. The local
            # storage emulator ignores preconditions, so this check is what holds there.
            return False
        flagged: list[int] = []
        for n, candidate in enumerate(image.candidates, 1):
            if candidate is None:
                flagged.append(n)
                continue
            # A redelivery after a crash before the output writes the same candidate again
            # (same seed, same picture); nothing is fired by a candidate, so that is harmless.
            self._write(
                candidate_object_name(job.job_id, n, candidate.extension),
                candidate,
                output_metadata(job, candidate.width, candidate.height, candidate=n, seed=candidate.seed),
            )
        metadata = output_metadata(job, image.width, image.height, flagged=tuple(flagged))
        if not self._write(output_object_name(job.job_id, image.extension), image, metadata):
            # Another delivery of the same message finished first: its object stands.
            log.info("output written by another delivery meanwhile", extra={"job_id": job.job_id})
            return False
        return True

    def _write(self, name: str, image: GeneratedImage, metadata: dict[str, str]) -> bool:
        """Write an object unless it exists (False then)."""
        blob = self._bucket.blob(name)
        blob.metadata = metadata
        try:
            blob.upload_from_string(
                image.data, content_type=image.content_type, if_generation_match=0, timeout=self._timeout
            )
        except PreconditionFailed:
            return False
        return True
