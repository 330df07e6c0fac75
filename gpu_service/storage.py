"""The output object `outputs/<job_id>.png`: the key that makes generation idempotent.

Its creation is the event that triggers delivery (Eventarc object.finalized), so it is written
once and never overwritten: an overwrite would finalize a second generation of the object and
deliver the photo twice.
"""

from __future__ import annotations

import logging

from google.api_core.exceptions import PreconditionFailed
from google.cloud import storage

from gpu_service.contract import GenerationJob, output_metadata, output_object_name
from gpu_service.images import GeneratedImage

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 60.0


class OutputBucket:
    def __init__(self, bucket: storage.Bucket, timeout: float = TIMEOUT_SECONDS) -> None:
        self._bucket = bucket
        self._timeout = timeout

    def output_exists(self, job_id: str) -> bool:
        return bool(self._bucket.blob(output_object_name(job_id)).exists(timeout=self._timeout))

    def upload_output(self, job: GenerationJob, image: GeneratedImage) -> bool:
        """Write the picture with its contract metadata; False if the object already existed."""
        blob = self._bucket.blob(output_object_name(job.job_id))
        # Cloud Storage refuses the write if the object exists (if_generation_match=0), which
        # also makes the upload safe to retry. The local storage emulator ignores
        # preconditions, so the existence check below is what holds there.
        if blob.exists(timeout=self._timeout):
            return False
        blob.metadata = output_metadata(job, image.width, image.height)
        try:
            blob.upload_from_string(
                image.png, content_type="image/png", if_generation_match=0, timeout=self._timeout
            )
        except PreconditionFailed:
            # Another delivery of the same message finished first: its object stands.
            log.info("output written by another delivery meanwhile", extra={"job_id": job.job_id})
            return False
        return True
