"""The output object `outputs/<job_id>.<ext>`: the key that makes generation idempotent.

Its creation is the event that triggers delivery (Eventarc object.finalized), so it is written
once and never overwritten: an overwrite would finalize a second generation of the object and
deliver the photo twice. A job has one output whatever its extension, so every check looks
for all of them.
"""

from __future__ import annotations

import logging

from google.api_core.exceptions import PreconditionFailed
from google.cloud import storage

from gpu_service.contract import GenerationJob, output_metadata, output_object_name, output_object_names
from gpu_service.images import GeneratedImage

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

    def upload_output(self, job: GenerationJob, image: GeneratedImage) -> bool:
        """Write the picture with its contract metadata; False if the job had an output already."""
        if self.output_exists(job.job_id):
            # Cloud Storage's precondition below covers the same name only; another extension
            # (a style whose encoding changed between deployments) is caught here. The local
            # storage emulator ignores preconditions, so this check is what holds there.
            return False
        blob = self._bucket.blob(output_object_name(job.job_id, image.extension))
        blob.metadata = output_metadata(job, image.width, image.height)
        try:
            blob.upload_from_string(
                image.data, content_type=image.content_type, if_generation_match=0, timeout=self._timeout
            )
        except PreconditionFailed:
            # Another delivery of the same message finished first: its object stands.
            log.info("output written by another delivery meanwhile", extra={"job_id": job.job_id})
            return False
        return True
