"""Remember what serves before a deploy, and put it back when the smoke test fails.

    python3 deploy/rollout.py snapshot --region R --gpu-service S --functions a,b --out previous.json
    python3 deploy/rollout.py rollback --region R --snapshot previous.json

Gen2 functions are Cloud Run services underneath: rolling one back is moving its traffic to the
revision that served before. The GPU service is deployed with --no-traffic, so its previous
revision still serves until the promotion; rolling it back removes the candidate's tag.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deploy import gcloud  # noqa: E402

CANDIDATE_TAG = "candidate"


def serving_revisions(service: dict[str, Any]) -> dict[str, int]:
    """{revision: percent} of a Cloud Run service's traffic (the API's v1 JSON, as gcloud prints it).

    An entry with latestRevision=true names no revision: it is the latest ready one.
    """
    status = service.get("status") or {}
    serving: dict[str, int] = {}
    for target in status.get("traffic") or []:
        percent = int(target.get("percent") or 0)
        if percent <= 0:
            continue
        revision = target.get("revisionName") or (
            status.get("latestReadyRevisionName") if target.get("latestRevision") else None
        )
        if revision:
            serving[revision] = serving.get(revision, 0) + percent
    return serving


def traffic_argument(serving: dict[str, int]) -> str:
    """The value of `gcloud run services update-traffic --to-revisions`."""
    if not serving or sum(serving.values()) != 100:
        raise ValueError(f"not a whole traffic split: {serving}")
    return ",".join(f"{revision}={percent}" for revision, percent in sorted(serving.items()))


def rollback_commands(snapshot: dict[str, Any], region: str) -> list[list[str]]:
    """The gcloud calls that put every service of the snapshot back as it was."""
    commands = []
    for service, serving in sorted(snapshot.get("functions", {}).items()):
        if serving:  # a function deployed for the first time has nothing to go back to
            commands.append(
                [
                    "run",
                    "services",
                    "update-traffic",
                    service,
                    f"--region={region}",
                    f"--to-revisions={traffic_argument(serving)}",
                ]
            )
    gpu = snapshot.get("gpu_service")
    if gpu:
        commands.append(
            ["run", "services", "update-traffic", gpu, f"--region={region}", f"--remove-tags={CANDIDATE_TAG}"]
        )
    return commands


def function_service(name: str, region: str) -> str:
    """The Cloud Run service behind a gen2 function (the same name, but ask rather than assume)."""
    described = gcloud.run_json("functions", "describe", name, f"--region={region}", "--gen2")
    return str(described["serviceConfig"]["service"]).rsplit("/", 1)[-1]


def snapshot(region: str, gpu_service: str, functions: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {"functions": {}, "gpu_service": gpu_service}
    for name in functions:
        try:
            service = function_service(name, region)
        except RuntimeError as error:
            print(f"{name}: not deployed yet ({error}); nothing to roll back to", file=sys.stderr)
            continue
        result["functions"][service] = serving_revisions(
            gcloud.run_json("run", "services", "describe", service, f"--region={region}")
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    snap = sub.add_parser("snapshot")
    snap.add_argument("--region", required=True)
    snap.add_argument("--gpu-service", required=True)
    snap.add_argument("--functions", required=True)
    snap.add_argument("--out", required=True)
    back = sub.add_parser("rollback")
    back.add_argument("--region", required=True)
    back.add_argument("--snapshot", required=True)
    args = parser.parse_args(argv)

    if args.command == "snapshot":
        taken = snapshot(args.region, args.gpu_service, [f for f in args.functions.split(",") if f])
        Path(args.out).write_text(json.dumps(taken, indent=2))
        print(json.dumps(taken, indent=2))
        return 0
    failed = False
    for command in rollback_commands(json.loads(Path(args.snapshot).read_text()), args.region):
        print("rolling back:", " ".join(command[:4]), command[-1])
        try:
            gcloud.run(*command)
        except RuntimeError as error:  # keep going: put back as much as possible
            print(error, file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
