"""The GPU's input photo, inputs/<job_id>.jpg in the images bucket: written once, by validation.

The bucket is private and a lifecycle rule deletes inputs after a few days (terraform/storage.tf):
the stored copy lives long enough to redraw ("Again", another style) after the user deleted the
photo, and no longer.
"""

from __future__ import annotations

import logging

from google.api_core.exceptions import PreconditionFailed
from google.cloud import storage

from imagebot.core.contract import input_object_name

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30.0
CONTENT_TYPE = "image/jpeg"


class InputStore:
    def __init__(self, bucket: storage.Bucket, timeout: float = TIMEOUT_SECONDS) -> None:
        self._bucket = bucket
        self._timeout = timeout

    def put_input(self, job_id: str, jpeg: bytes) -> str:
        """Store the prepared photo and answer its object name; a redelivered validation of the
        same job finds it stored already, which is as good (the job id fixes the photo)."""
        name = input_object_name(job_id)
        blob = self._bucket.blob(name)
        try:
            # Create-only: the validation account may create objects, not replace them.
            blob.upload_from_string(
                jpeg, content_type=CONTENT_TYPE, if_generation_match=0, timeout=self._timeout
            )
        except PreconditionFailed:
            log.info("input stored by an earlier delivery", extra={"job_id": job_id})
        return name
