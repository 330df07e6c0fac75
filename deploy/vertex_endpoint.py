"""Release a GPU service image on the Vertex AI endpoint: upload it as a model, deploy it with
all the traffic, then undeploy the models it replaces (Cloud Build's `deploy-vertex` step).

    python3 deploy/vertex_endpoint.py \
        --endpoint=projects/P/locations/us-central1/endpoints/1001 \
        --image=europe-west4-docker.pkg.dev/P/imagebot/gpu-service:BUILD \
        --env-json='{"IMAGES_BUCKET": "…", …}' --service-account=imagebot-gpu@P.iam.gserviceaccount.com \
        [--machine-type=n1-standard-8] [--accelerator=NVIDIA_TESLA_T4] [--replicas=1-2] [--label=build=BUILD]

The image is the one the Cloud Run service runs: it serves Vertex AI's custom-container routes
(gpu_service/app.py) when Vertex AI sets AIP_HEALTH_ROUTE and AIP_PREDICT_ROUTE, which it does
from the model's container spec below. The new model is deployed before the old ones are
undeployed, so the endpoint never has nothing to serve; if the deploy fails, the old models
keep all the traffic and the step fails.

Through google-cloud-aiplatform's ModelService and EndpointService clients (REST).
`--api-endpoint` points them at a local stand-in (tests/infra/google_apis.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("deploy.vertex_endpoint")

PORT = 8080
HEALTH_ROUTE = "/vertex/health"
PREDICT_ROUTE = "/vertex/predict"
# Upload and deploy are long-running operations; a deploy waits for a replica to load the
# models and pass the health route, which for real weights takes several minutes.
OPERATION_TIMEOUT_SECONDS = 1800
_ENDPOINT = re.compile(r"^projects/(?P<project>[^/]+)/locations/(?P<region>[a-z0-9-]+)/endpoints/[^/]+$")


@dataclass(frozen=True)
class Release:
    """What is released where (pure: the requests follow from it)."""

    endpoint: str
    image: str
    env: dict[str, str]
    service_account: str
    machine_type: str = "n1-standard-8"
    accelerator: str = "NVIDIA_TESLA_T4"
    min_replicas: int = 1
    max_replicas: int = 2
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _ENDPOINT.match(self.endpoint):
            raise ValueError(f"not an endpoint name: {self.endpoint!r}")
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise ValueError(f"replicas must be 1 <= min <= max, not {self.min_replicas}-{self.max_replicas}")
        reserved = sorted(name for name in self.env if name.startswith("AIP_"))
        if reserved:
            raise ValueError(f"Vertex AI sets {', '.join(reserved)} itself")

    @property
    def region(self) -> str:
        return _ENDPOINT.match(self.endpoint).group("region")  # type: ignore[union-attr]

    @property
    def parent(self) -> str:
        return f"projects/{_ENDPOINT.match(self.endpoint).group('project')}/locations/{self.region}"  # type: ignore[union-attr]

    def model(self) -> dict[str, Any]:
        return {
            "display_name": "imagebot-gpu",
            "labels": self.labels,
            "container_spec": {
                "image_uri": self.image,
                "env": [{"name": name, "value": value} for name, value in sorted(self.env.items())],
                "ports": [{"container_port": PORT}],
                "predict_route": PREDICT_ROUTE,
                "health_route": HEALTH_ROUTE,
            },
        }

    def deployed_model(self, model: str) -> dict[str, Any]:
        return {
            "model": model,
            "display_name": "imagebot-gpu",
            "service_account": self.service_account,
            "dedicated_resources": {
                "machine_spec": {
                    "machine_type": self.machine_type,
                    "accelerator_type": self.accelerator,
                    "accelerator_count": 1,
                },
                "min_replica_count": self.min_replicas,
                "max_replica_count": self.max_replicas,
            },
        }


def release(spec: Release, api_endpoint: str = "", timeout: float = OPERATION_TIMEOUT_SECONDS) -> str:
    """Upload, deploy with 100% of the traffic, undeploy the rest. Returns the deployed model id."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform_v1

    options = ClientOptions(api_endpoint=api_endpoint or f"{spec.region}-aiplatform.googleapis.com")
    credentials = AnonymousCredentials() if api_endpoint else None  # a stand-in: nothing for Google
    models = aiplatform_v1.ModelServiceClient(
        transport="rest", client_options=options, credentials=credentials
    )
    endpoints = aiplatform_v1.EndpointServiceClient(
        transport="rest", client_options=options, credentials=credentials
    )

    model = (
        models.upload_model(parent=spec.parent, model=aiplatform_v1.Model(spec.model())).result(timeout).model
    )
    log.info("uploaded %s as %s", spec.image, model)
    replaced = [deployed.id for deployed in endpoints.get_endpoint(name=spec.endpoint).deployed_models]
    deployed = (
        endpoints.deploy_model(
            endpoint=spec.endpoint,
            deployed_model=aiplatform_v1.DeployedModel(spec.deployed_model(model)),
            traffic_split={"0": 100},  # "0": the model this request deploys
        )
        .result(timeout)
        .deployed_model
    )
    log.info("deployed %s to %s as %s", model, spec.endpoint, deployed.id)
    for old in replaced:
        endpoints.undeploy_model(endpoint=spec.endpoint, deployed_model_id=old).result(timeout)
        log.info("undeployed %s", old)
    return deployed.id


def parse_args(argv: list[str]) -> tuple[Release, str]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--image", required=True)
    parser.add_argument(
        "--env-json", required=True, help="the container's environment, a JSON object of strings"
    )
    parser.add_argument("--service-account", required=True)
    parser.add_argument("--machine-type", default="n1-standard-8")
    parser.add_argument("--accelerator", default="NVIDIA_TESLA_T4")
    parser.add_argument("--replicas", default="1-2", help="MIN-MAX")
    parser.add_argument("--label", action="append", default=[], help="KEY=VALUE, repeatable")
    parser.add_argument("--api-endpoint", default="", help="a local stand-in's URL (tests)")
    args = parser.parse_args(argv)
    env = json.loads(args.env_json)
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        parser.error("--env-json must be a JSON object of strings")
    low, _, high = args.replicas.partition("-")
    spec = Release(
        endpoint=args.endpoint,
        image=args.image,
        env=env,
        service_account=args.service_account,
        machine_type=args.machine_type,
        accelerator=args.accelerator,
        min_replicas=int(low),
        max_replicas=int(high or low),
        labels=dict(label.split("=", 1) for label in args.label),
    )
    return spec, args.api_endpoint


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        spec, api_endpoint = parse_args(sys.argv[1:] if argv is None else argv)
    except ValueError as error:
        print(f"vertex_endpoint: {error}", file=sys.stderr)
        return 2
    deployed = release(spec, api_endpoint)
    print(f"deployed model {deployed} on {spec.endpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
