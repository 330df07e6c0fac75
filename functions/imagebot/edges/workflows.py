"""Cloud Workflows: starting the budget workflow (workflows/budget_guard.yaml), which stops or
resumes the GPU service. Used by budget_guard and by an operator's /resume."""

from __future__ import annotations

import functools
import json
from typing import Protocol

from imagebot.config import Settings
from imagebot.core import budget


class WorkflowStarter(Protocol):
    def start(self, workflow: budget.Workflow, reason: str) -> str:
        """Start the budget workflow; returns the execution's name."""


class ExecutionsStarter:
    """The Workflows Executions API: the budget workflow runs on its own, outside this function,
    so its minutes of polling Cloud Run are not billed to (or timed out by) the function."""

    def __init__(self, settings: Settings) -> None:
        from google.cloud.workflows import executions_v1  # only this function needs it

        self._types = executions_v1
        if settings.workflows_api_endpoint:
            # A local stand-in: an insecure channel and no credentials, as the Pub/Sub and
            # Firestore clients do when their *_EMULATOR_HOST is set.
            import grpc
            from google.cloud.workflows.executions_v1.services.executions.transports import (
                ExecutionsGrpcTransport,
            )

            channel = grpc.insecure_channel(settings.workflows_api_endpoint)
            self._client = executions_v1.ExecutionsClient(transport=ExecutionsGrpcTransport(channel=channel))
        else:
            self._client = executions_v1.ExecutionsClient()
        self._parent = self._client.workflow_path(settings.project, settings.region, settings.budget_workflow)

    def start(self, workflow: budget.Workflow, reason: str) -> str:
        execution = self._types.Execution(argument=json.dumps({"action": workflow.value, "reason": reason}))
        created = self._client.create_execution(parent=self._parent, execution=execution, timeout=30)
        return str(created.name)


@functools.cache
def default_starter(settings: Settings) -> WorkflowStarter:
    return ExecutionsStarter(settings)
