"""Serve one workflow with workflows-emulator on loopback, the Executions API's shape.

Run by the workflows-emulator virtualenv's Python (it pins an old FastAPI, so it cannot share the
project's venv), never imported by the tests:

    <tool-venv>/bin/python tests/infra/workflows_emulator_server.py --source FILE --port N

POST /v1/projects/P/locations/L/workflows/W/executions {"argument": "<json>"} runs the workflow
to the end and answers its result; GET /healthz answers once the server is up. This is the
emulator's own `serve` command with two differences: it binds 127.0.0.1 only, and it binds the
whole argument to main's one parameter, as Workflows does (`serve` spreads the argument's keys
over main's parameters instead, which no deployed workflow would see).
"""

from __future__ import annotations

import argparse
import json
import logging

import uvicorn
from fastapi import FastAPI
from workflows_emulator.cli import WORKFLOW_EXECUTE_ROUTE
from workflows_emulator.main import load_workflow
from workflows_emulator.server import WorkflowExecutionRequest, default_handler_clousure


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    app = FastAPI()
    run = default_handler_clousure(args.source)
    main_param = (load_workflow(args.source)["main"].get("params") or ["args"])[0]

    def execute(body: WorkflowExecutionRequest, project_ref: str, location: str, workflow_id: str) -> object:
        wrapped = WorkflowExecutionRequest(argument=json.dumps({main_param: json.loads(body.argument)}))
        return run(wrapped, project_ref, location, workflow_id)

    app.add_api_route(WORKFLOW_EXECUTE_ROUTE, execute, methods=["POST"])
    app.add_api_route("/healthz", lambda: {"ok": True}, methods=["GET"])
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
