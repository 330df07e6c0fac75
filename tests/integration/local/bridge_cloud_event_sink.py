"""A CloudEvent function for the bridge tests, loaded by functions-framework as a deployed one is.

It appends each event it receives to the JSON-lines file named by BRIDGE_SINK_LOG.
"""

from __future__ import annotations

import json
import os

import functions_framework
from cloudevents.http import CloudEvent


@functions_framework.cloud_event
def record_event(event: CloudEvent) -> None:
    with open(os.environ["BRIDGE_SINK_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"attributes": dict(event.get_attributes()), "data": event.data}) + "\n")
