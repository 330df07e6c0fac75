"""Remember what serves before a deploy, and put it back when the smoke test fails.

    python3 deploy/rollout.py snapshot --project P --region R --gpu-service S --functions a,b \
        --out previous.json
    python3 deploy/rollout.py rollback --project P --region R --snapshot previous.json
    python3 deploy/rollout.py guard --project P --region R --gpu-service S

`guard` fails (exit 1, one clear line in the build log) while the budget guard's stop is in force:
the budget workflow scales the GPU service to manual scaling with 0 instances, and only its
resume (a new budget period, or an operator's /resume) undoes it. The build's GPU deploy and
promotion steps run it first, so no build brings back the spending the guard stopped.

Gen2 functions are Cloud Run services underneath: rolling one back is moving its traffic to the
revision that served before (Cloud Run Admin API v2, services.patch with updateMask=traffic).
The GPU service is deployed with --no-traffic, so its previous revision still serves until the
promotion; rolling it back removes the candidate's tag. Terraform ignores the functions'
all_traffic_on_latest_revision after creation, so an apply keeps a rollback; the next build's
deploy sends the traffic to its new revision.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deploy import gcloud  # noqa: E402

CANDIDATE_TAG = "candidate"
RUN_API = "https://run.googleapis.com"
FUNCTIONS_API = "https://cloudfunctions.googleapis.com"
REVISION = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
LATEST = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
OPERATION_POLLS = 60
POLL_SECONDS = 5


def serving_revisions(service: dict[str, Any]) -> dict[str, int]:
    """{revision: percent} of a Cloud Run service's traffic (the Admin API v2 Service JSON).

    A LATEST entry names no revision: it is the latest ready one.
    """
    latest = str(service.get("latestReadyRevision") or "").rsplit("/", 1)[-1]
    serving: dict[str, int] = {}
    for target in service.get("trafficStatuses") or []:
        percent = int(target.get("percent") or 0)
        if percent <= 0:
            continue
        revision = target.get("revision") or (latest if target.get("type") == LATEST else "")
        if revision:
            serving[revision] = serving.get(revision, 0) + percent
    return serving


def traffic_to(serving: dict[str, int]) -> list[dict[str, Any]]:
    """The `traffic` of services.patch that puts this split back."""
    if not serving or sum(serving.values()) != 100:
        raise ValueError(f"not a whole traffic split: {serving}")
    return [{"type": REVISION, "revision": r, "percent": p} for r, p in sorted(serving.items())]


def untagged(traffic: list[dict[str, Any]], tag: str = CANDIDATE_TAG) -> list[dict[str, Any]]:
    """The service's traffic without the tag (the tagged entry carries no traffic of its own)."""
    return [target for target in traffic if target.get("tag") != tag]


class CloudRun:
    """The two Admin API calls a rollback needs, and the Cloud Functions one that names a service."""

    def __init__(self, project: str, region: str, run_api: str, functions_api: str, token: str) -> None:
        self._location = f"projects/{project}/locations/{region}"
        self._run_api, self._functions_api, self._token = (
            run_api.rstrip("/"),
            functions_api.rstrip("/"),
            token,
        )

    def service(self, name: str) -> dict[str, Any]:
        return dict(gcloud.rest("GET", f"{self._run_api}/v2/{self._location}/services/{name}", self._token))

    def set_traffic(self, name: str, traffic: list[dict[str, Any]]) -> None:
        url = f"{self._run_api}/v2/{self._location}/services/{name}?updateMask=traffic"
        operation = gcloud.rest("PATCH", url, self._token, {"traffic": traffic})
        for attempt in range(OPERATION_POLLS):
            if operation.get("done"):
                break
            if attempt:
                time.sleep(POLL_SECONDS)
            operation = gcloud.rest("GET", f"{self._run_api}/v2/{operation['name']}", self._token)
        else:
            raise RuntimeError(f"{name}: the traffic change did not finish")
        if "error" in operation:
            raise RuntimeError(f"{name}: {operation['error']}")

    def function_service(self, function: str) -> str | None:
        """The Cloud Run service behind a gen2 function (the same name, but ask rather than assume);
        None if the function does not exist yet."""
        url = f"{self._functions_api}/v2/{self._location}/functions/{function}"
        status, body = gcloud.http("GET", url, self._token)
        if status == 404:
            return None
        if status != 200:
            raise RuntimeError(f"GET function {function}: {status} {body[:300].decode(errors='replace')}")
        return str(json.loads(body)["serviceConfig"]["service"]).rsplit("/", 1)[-1]


def stopped_by_the_budget(service: dict[str, Any]) -> bool:
    """The budget workflow's stop: service-level manual scaling with 0 instances."""
    scaling = service.get("scaling") or {}
    return scaling.get("scalingMode") == "MANUAL" and int(scaling.get("manualInstanceCount") or 0) == 0


REFUSED = (
    "REFUSED: the budget guard has stopped the GPU service {service} (manual scaling, 0 instances); "
    "no GPU deploy or promotion until it resumes (an operator's /resume, or a new budget period: "
    "docs/OPERATIONS.md, budget stop)"
)


def snapshot(run: CloudRun, gpu_service: str, functions: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {"functions": {}, "gpu_service": gpu_service}
    for name in functions:
        service = run.function_service(name)
        if service is None:
            print(f"{name}: not deployed yet; nothing to roll back to", file=sys.stderr)
            continue
        result["functions"][service] = serving_revisions(run.service(service))
    return result


def rollback(run: CloudRun, taken: dict[str, Any]) -> bool:
    """Puts back every service of the snapshot; keeps going past a failure. True if all went back."""
    ok = True
    for service, serving in sorted(taken.get("functions", {}).items()):
        if not serving:  # a function deployed for the first time has nothing to go back to
            continue
        print(f"rolling back: {service} to {serving}")
        try:
            run.set_traffic(service, traffic_to(serving))
        except (RuntimeError, ValueError) as error:
            print(error, file=sys.stderr)
            ok = False
    gpu = taken.get("gpu_service")
    if gpu:
        print(f"rolling back: {gpu} loses its {CANDIDATE_TAG} tag")
        try:
            run.set_traffic(gpu, untagged(run.service(gpu).get("traffic") or []))
        except RuntimeError as error:
            print(error, file=sys.stderr)
            ok = False
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("snapshot", "rollback", "guard"):
        each = sub.add_parser(command)
        each.add_argument("--project", required=True)
        each.add_argument("--region", required=True)
        each.add_argument("--run-api", default=RUN_API)
        each.add_argument("--functions-api", default=FUNCTIONS_API)
    snap, back = sub.choices["snapshot"], sub.choices["rollback"]
    snap.add_argument("--gpu-service", required=True)
    snap.add_argument("--functions", required=True)
    snap.add_argument("--out", required=True)
    back.add_argument("--snapshot", required=True)
    sub.choices["guard"].add_argument("--gpu-service", required=True)
    args = parser.parse_args(argv)

    run = CloudRun(args.project, args.region, args.run_api, args.functions_api, gcloud.access_token())
    if args.command == "guard":
        if stopped_by_the_budget(run.service(args.gpu_service)):
            print(REFUSED.format(service=args.gpu_service))
            return 1
        print(f"budget guard: {args.gpu_service} is not stopped; going on")
        return 0
    if args.command == "snapshot":
        taken = snapshot(run, args.gpu_service, [f for f in args.functions.split(",") if f])
        Path(args.out).write_text(json.dumps(taken, indent=2))
        print(json.dumps(taken, indent=2))
        return 0
    return 0 if rollback(run, json.loads(Path(args.snapshot).read_text())) else 1


if __name__ == "__main__":
    sys.exit(main())
