"""A local Workflows Executions API (gRPC) that runs executions in workflows-emulator.

The budget_guard function starts its workflow with the real `ExecutionsClient`, which speaks
gRPC; workflows-emulator serves the executions route over HTTP/JSON. This bridge accepts
`CreateExecution` on a loopback gRPC port, runs the execution through the emulator, and answers
an `Execution` the way the API reports a finished one (SUCCEEDED with its result, or FAILED with
the error), recording each for assertions.
"""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
from google.cloud.workflows import executions_v1

SERVICE = "google.cloud.workflows.executions.v1.Executions"


@dataclass
class Ran:
    parent: str
    argument: dict[str, Any]
    status: int
    result: Any


@dataclass
class ExecutionsBridge:
    emulator_url: str
    executions: list[Ran] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "CreateExecution": grpc.unary_unary_rpc_method_handler(
                    self._create,
                    request_deserializer=executions_v1.CreateExecutionRequest.deserialize,
                    response_serializer=executions_v1.Execution.serialize,
                )
            },
        )
        self._server = grpc.server(ThreadPoolExecutor(max_workers=4))
        self._server.add_generic_rpc_handlers((handler,))
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _create(
        self, request: executions_v1.CreateExecutionRequest, context: grpc.ServicerContext
    ) -> executions_v1.Execution:
        argument = request.execution.argument or "{}"
        response = httpx.post(
            f"{self.emulator_url}/v1/{request.parent}/executions", json={"argument": argument}, timeout=120
        )
        result = response.json() if "json" in response.headers.get("content-type", "") else response.text
        with self._lock:
            self.executions.append(Ran(request.parent, json.loads(argument), response.status_code, result))
        execution = executions_v1.Execution(
            name=f"{request.parent}/executions/{uuid.uuid4()}", argument=argument
        )
        if response.status_code == 200:
            execution.state = executions_v1.Execution.State.SUCCEEDED
            execution.result = json.dumps(result)
        else:
            execution.state = executions_v1.Execution.State.FAILED
            execution.error = executions_v1.Execution.Error(payload=str(result))
        return execution

    def __enter__(self) -> ExecutionsBridge:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None)
