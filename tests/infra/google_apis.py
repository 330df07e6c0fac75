"""A local stand-in for the Google REST APIs the budget workflow calls, over real HTTP.

- Cloud Run Admin API v2: GET and PATCH (updateMask=scaling, or updateMask=traffic as a rollback
  sends it) of services, answering the PATCH with a long-running operation and reporting
  `reconciling` for a few reads afterwards, as Cloud Run does while it rolls the change out; GET
  of the operation. A traffic change must name revisions the service has and add up to 100.
- Cloud Functions API v2: GET of a function (its Cloud Run service's name).
- Secret Manager: `versions/latest:access` of the bot token.
- Vertex AI ModelService and EndpointService (v1): models:upload, GET endpoint, :deployModel and
  :undeployModel, each answered with a finished long-running operation, as a real one reads
  once done; `deploy_failures` fails the next deploys as a model that never turns healthy does.
- OAuth 2.0 token endpoint: the workflow authenticates with `auth: {type: OAuth2}`, which in
  workflows-emulator means Application Default Credentials; tests point those at a credentials
  file whose token_url is this endpoint. The token it hands out, "owner", is
  the one the Firestore emulator treats as an administrator.

Every request is recorded (method, path, query, Authorization header, JSON body) for assertions.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ACCESS_TOKEN = "owner"
_SERVICE = re.compile(r"^/v2/(projects/[^/]+/locations/[^/]+)/services/([^/]+)$")
_FUNCTION = re.compile(r"^/v2/(projects/[^/]+/locations/[^/]+)/functions/([^/]+)$")
_REVISION = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
_OPERATION = re.compile(r"^/v2/(projects/[^/]+/locations/[^/]+/operations/[^/]+)$")
_UPLOAD = re.compile(r"^/v1/(projects/[^/]+/locations/[^/]+)/models:upload$")
_ENDPOINT = re.compile(
    r"^/v1/(projects/[^/]+/locations/[^/]+/endpoints/[^/:]+)(?::(deployModel|undeployModel))?$"
)
_AIPLATFORM = "type.googleapis.com/google.cloud.aiplatform.v1"
_SECRET = re.compile(r"^/v1/projects/([^/]+)/secrets/([^/]+)/versions/latest:access$")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None
    body: Any


@dataclass
class GoogleApis:
    """State and knobs of the stand-in; tests change them between runs."""

    secrets: dict[str, str] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    functions: dict[str, dict[str, Any]] = field(default_factory=dict)  # Cloud Functions by name
    reads_while_reconciling: int = 2  # GETs that still report reconciling after a PATCH
    patch_failures: list[int] = field(default_factory=list)  # statuses to answer the next PATCHes with
    requests: list[Recorded] = field(default_factory=list)
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)  # Vertex AI endpoints by name
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # uploaded Vertex AI models by name
    deploy_failures: int = 0  # the next N deployModel operations end in an error
    _pending: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_service(
        self,
        parent: str,
        name: str,
        min_instances: int = 0,
        max_instances: int = 2,
        revisions: list[str] | None = None,
        traffic: list[dict[str, Any]] | None = None,
    ) -> None:
        full = f"{parent}/services/{name}"
        revisions = revisions or [f"{name}-00001-abc"]
        traffic = traffic or [{"type": _REVISION, "revision": revisions[-1], "percent": 100}]
        self.services[full] = {
            "revisions": list(revisions),  # not in the API's Service: the stand-in's own record
            "latestReadyRevision": f"{full}/revisions/{revisions[-1]}",
            "traffic": [dict(t) for t in traffic],
            "trafficStatuses": [dict(t) for t in traffic],
            "name": full,
            "generation": "1",
            "observedGeneration": "1",
            "reconciling": False,
            "scaling": {"scalingMode": "AUTOMATIC"},
            "template": {"scaling": {"minInstanceCount": min_instances, "maxInstanceCount": max_instances}},
            "terminalCondition": {"type": "Ready", "state": "CONDITION_SUCCEEDED"},
        }

    def add_function(self, parent: str, name: str) -> None:
        """A gen2 function, served by the Cloud Run service of the same name (add that too)."""
        self.functions[f"{parent}/functions/{name}"] = {
            "name": f"{parent}/functions/{name}",
            "environment": "GEN_2",
            "serviceConfig": {"service": f"{parent}/services/{name}"},
        }

    def deploy_revision(self, parent: str, name: str, revision: str) -> None:
        """What `gcloud functions deploy` leaves: a new revision with all the traffic."""
        service = self.services[f"{parent}/services/{name}"]
        service["revisions"].append(revision)
        service["latestReadyRevision"] = f"{parent}/services/{name}/revisions/{revision}"
        service["traffic"] = [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}]
        service["trafficStatuses"] = [dict(t) for t in service["traffic"]]

    def calls(self, method: str, path_part: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and path_part in r.path]

    # --- the API -------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if method == "POST" and path == "/token":
            return 200, {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600}
        if (m := _SECRET.match(path)) and method == "GET":
            value = self.secrets.get(m.group(2))
            if value is None:
                return 404, _error(404, "NOT_FOUND", f"Secret {m.group(2)} not found")
            payload = base64.b64encode(value.encode()).decode()
            return 200, {
                "name": f"projects/{m.group(1)}/secrets/{m.group(2)}/versions/1",
                "payload": {"data": payload},
            }
        if m := _SERVICE.match(path):
            name = f"{m.group(1)}/services/{m.group(2)}"
            if name not in self.services:
                return 404, _error(
                    404, "NOT_FOUND", f"Resource '{m.group(2)}' of kind 'SERVICE' does not exist."
                )
            if method == "GET":
                return 200, self._read(name)
            if method == "PATCH":
                return self._patch(name, m.group(1), query, body)
        if (m := _FUNCTION.match(path)) and method == "GET":
            function = self.functions.get(f"{m.group(1)}/functions/{m.group(2)}")
            if function is None:
                return 404, _error(404, "NOT_FOUND", f"Function {m.group(2)} does not exist")
            return 200, function
        if (m := _OPERATION.match(path)) and method == "GET":
            return 200, {"name": m.group(1), "done": True}
        if (m := _UPLOAD.match(path)) and method == "POST":
            return self._upload(m.group(1), body)
        if m := _ENDPOINT.match(path):
            return self._endpoint(method, m.group(1), m.group(2), body)
        return 404, _error(404, "NOT_FOUND", f"no stand-in for {method} {path}")

    def _read(self, name: str) -> dict[str, Any]:
        service = self.services[name]
        if self._pending.get(name, 0) > 0:
            self._pending[name] -= 1
        else:
            service["reconciling"] = False
            service["observedGeneration"] = service["generation"]
        return json.loads(json.dumps(service))

    def _patch(self, name: str, parent: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if self.patch_failures:
            status = self.patch_failures.pop(0)
            return status, _error(status, "UNAVAILABLE", "stand-in failure")
        mask = query.get("updateMask", [""])[0].split(",")
        service = self.services[name]
        if mask == ["traffic"] and isinstance(body, dict) and isinstance(body.get("traffic"), list):
            problem = _traffic_problem(body["traffic"], service["revisions"])
            if problem:
                return 400, _error(400, "INVALID_ARGUMENT", problem)
            service["traffic"] = [dict(t) for t in body["traffic"]]
            service["trafficStatuses"] = [dict(t) for t in body["traffic"]]
        elif mask == ["scaling"] and isinstance(body, dict) and "scaling" in body:
            scaling = body["scaling"]
            if scaling.get("scalingMode") not in ("AUTOMATIC", "MANUAL"):
                return 400, _error(400, "INVALID_ARGUMENT", f"bad scalingMode {scaling.get('scalingMode')!r}")
            service["scaling"] = dict(scaling)
        else:
            return 400, _error(
                400, "INVALID_ARGUMENT", f"stand-in accepts updateMask=scaling or traffic only, got {mask}"
            )
        service["generation"] = str(int(service["generation"]) + 1)
        service["reconciling"] = True
        self._pending[name] = self.reads_while_reconciling
        operation = f"{parent}/operations/{uuid.uuid4()}"
        return 200, {
            "name": operation,
            "metadata": {"@type": "type.googleapis.com/google.cloud.run.v2.Service", "name": name},
        }

    # --- Vertex AI --------------------------------------------------------------------------------

    def add_endpoint(self, name: str, deployed: list[dict[str, Any]] | None = None) -> None:
        self.endpoints[name] = {
            "name": name,
            "displayName": "imagebot-gpu",
            "deployedModels": deployed or [],
            "trafficSplit": {},
        }
        for model in deployed or []:
            self.endpoints[name]["trafficSplit"][model["id"]] = 100 // len(deployed or [1])

    def _upload(self, parent: str, body: Any) -> tuple[int, Any]:
        spec = (body or {}).get("model", {}).get("containerSpec", {})
        if not spec.get("imageUri") or not spec.get("predictRoute") or not spec.get("healthRoute"):
            return 400, _error(
                400, "INVALID_ARGUMENT", "containerSpec needs imageUri, predictRoute and healthRoute"
            )
        name = f"{parent}/models/{len(self.models) + 1}"
        self.models[name] = body["model"]
        return 200, _done(parent, f"{_AIPLATFORM}.UploadModelResponse", {"model": name})

    def _endpoint(self, method: str, name: str, verb: str | None, body: Any) -> tuple[int, Any]:
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            return 404, _error(404, "NOT_FOUND", f"Endpoint {name} not found")
        if method == "GET" and verb is None:
            # As proto3 JSON does: empty fields are left out.
            return 200, {key: value for key, value in json.loads(json.dumps(endpoint)).items() if value}
        if method == "POST" and verb == "deployModel":
            deployed = dict(body["deployedModel"])
            if deployed.get("model") not in self.models:
                return 400, _error(400, "INVALID_ARGUMENT", f"no model {deployed.get('model')!r}")
            parent = name.rsplit("/endpoints/", 1)[0]
            if self.deploy_failures:
                self.deploy_failures -= 1
                return 200, {
                    "name": f"{parent}/operations/{uuid.uuid4()}",
                    "done": True,
                    "error": {"code": 13, "message": "model server never became ready"},
                }
            deployed["id"] = str(1000 + len(self.requests))
            endpoint["deployedModels"].append(deployed)
            split = body.get("trafficSplit") or {}
            endpoint["trafficSplit"] = {
                deployed["id"] if key == "0" else key: value for key, value in split.items()
            }
            return 200, _done(parent, f"{_AIPLATFORM}.DeployModelResponse", {"deployedModel": deployed})
        if method == "POST" and verb == "undeployModel":
            model_id = body["deployedModelId"]
            if model_id not in {m["id"] for m in endpoint["deployedModels"]}:
                return 404, _error(404, "NOT_FOUND", f"no deployed model {model_id}")
            last = len(endpoint["deployedModels"]) == 1
            if endpoint["trafficSplit"].get(model_id, 0) > 0 and not last:
                return 400, _error(400, "FAILED_PRECONDITION", f"deployed model {model_id} still has traffic")
            endpoint["deployedModels"] = [m for m in endpoint["deployedModels"] if m["id"] != model_id]
            endpoint["trafficSplit"].pop(model_id, None)
            parent = name.rsplit("/endpoints/", 1)[0]
            return 200, _done(parent, f"{_AIPLATFORM}.UndeployModelResponse", {})
        return 404, _error(404, "NOT_FOUND", f"no stand-in for {method} {name}:{verb}")


def _traffic_problem(traffic: list[dict[str, Any]], revisions: list[str]) -> str:
    """Why Cloud Run would refuse this traffic, or "" (revisions must exist; percents sum to 100)."""
    for target in traffic:
        if target.get("type") == _REVISION and target.get("revision") not in revisions:
            return f"revision {target.get('revision')!r} does not exist"
    total = sum(int(target.get("percent") or 0) for target in traffic)
    return "" if total == 100 else f"traffic percents add up to {total}, not 100"


def _done(parent: str, response_type: str, response: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": f"{parent}/operations/{uuid.uuid4()}",
        "done": True,
        "response": {"@type": response_type, **response},
    }


def _error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "status": status, "message": message}}


class GoogleApisServer:
    """`with GoogleApisServer() as server:` serves `server.apis` on a loopback port."""

    def __init__(self) -> None:
        self.apis = GoogleApis()
        apis = self.apis

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = (
                        json.loads(raw)
                        if raw and "json" in (self.headers.get("Content-Type") or "")
                        else raw.decode()
                    )
                except ValueError:
                    body = raw.decode(errors="replace")
                query = parse_qs(parts.query)
                with apis._lock:
                    apis.requests.append(
                        Recorded(self.command, parts.path, query, self.headers.get("Authorization"), body)
                    )
                    status, answer = apis.handle(self.command, parts.path, query, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _serve

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> GoogleApisServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
