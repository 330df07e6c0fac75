"""Jobs that will never succeed, however often Pub/Sub redelivers them.

A blocked prompt is answered 400 with the reason: Pub/Sub retries, then moves the message to the
dead-letter topic, where the failure reporter closes the job and tells the user. A flagged
picture is a final answer of its own: the job is rejected at once (reason "flagged"), the user
told, and the message acknowledged (service.process_job). Anything else that goes wrong is a
500 and may succeed on a redelivery.
"""

from __future__ import annotations

from gpu_service.vocabulary import FLAGGED


class JobRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BlockedPrompt(JobRefused):
    """The prompt holds a term of the blocklist (checked again here: defence in depth)."""

    def __init__(self, term: str) -> None:
        # The term itself stays out of the reason: reasons end up in logs and dashboards.
        super().__init__("blocked prompt")
        self.term = term


class UnsafeOutput(JobRefused):
    """The safety checker flagged the picture: it is not uploaded, and the job is rejected."""

    def __init__(self) -> None:
        super().__init__(FLAGGED)


class BadInput(JobRefused):
    """The job's input object is there but is no picture Pillow accepts: drawing from it never
    will succeed. (A missing input is no refusal: the job is rejected and the user told.)"""

    def __init__(self, why: str) -> None:
        super().__init__("bad input image")
        self.why = why


class BrokenOutput(JobRefused):
    """The picture decoded to NaN or black twice, with two seeds: never sent."""

    def __init__(self) -> None:
        super().__init__("broken output")
