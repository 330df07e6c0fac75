"""deploy/vertex_endpoint.py through google-cloud-aiplatform's real ModelService and EndpointService
clients (REST) against a local stand-in of Vertex AI's control plane (tests/infra/google_apis.py)."""

from __future__ import annotations

import json

import pytest
from google.api_core.exceptions import GoogleAPICallError

from deploy import vertex_endpoint
from deploy.vertex_endpoint import Release, release
from gpu_service.config import parse_vertex_routes
from local.stack import AIP_ROUTES
from tests.infra.google_apis import GoogleApisServer

ENDPOINT = "projects/imagebot-dev/locations/us-central1/endpoints/1001"
OLD = {"id": "77", "model": "projects/imagebot-dev/locations/us-central1/models/0"}
T4 = 5  # AcceleratorType.NVIDIA_TESLA_T4: the REST transport sends enums as numbers
ENV = {
    "IMAGES_BUCKET": "imagebot-dev-images",
    "MODEL_DIR": "gs://imagebot-dev-models",
    "TORCH_DEVICE": "cuda",
}


@pytest.fixture
def server():
    with GoogleApisServer() as server:
        server.apis.add_endpoint(ENDPOINT, [OLD])
        yield server


def spec(**changes) -> Release:
    return Release(
        **{
            "endpoint": ENDPOINT,
            "image": "europe-west4-docker.pkg.dev/imagebot-dev/imagebot/gpu-service:b1",
            "env": ENV,
            "service_account": "imagebot-gpu@imagebot-dev.iam.gserviceaccount.com",
            "labels": {"build": "b1"},
            **changes,
        }
    )


def test_a_release_uploads_deploys_with_all_traffic_then_retires_the_old_model(server):
    deployed_id = release(spec(), api_endpoint=server.base_url, timeout=10)

    upload, get, deploy, undeploy = server.apis.requests
    assert [r.path.rsplit("/", 1)[-1] for r in (upload, get, deploy, undeploy)] == [
        "models:upload",
        "1001",
        "1001:deployModel",
        "1001:undeployModel",
    ]
    container = upload.body["model"]["containerSpec"]
    assert container["imageUri"] == spec().image and container["ports"] == [{"containerPort": 8080}]
    assert {e["name"]: e["value"] for e in container["env"]} == ENV
    assert (container["healthRoute"], container["predictRoute"]) == (
        vertex_endpoint.HEALTH_ROUTE,
        vertex_endpoint.PREDICT_ROUTE,
    )
    deployed = deploy.body["deployedModel"]
    assert deploy.body["trafficSplit"] == {"0": 100}
    assert deployed["dedicatedResources"]["machineSpec"] == {
        "machineType": "n1-standard-8",
        "acceleratorType": T4,
        "acceleratorCount": 1,
    }
    assert (
        deployed["dedicatedResources"]["minReplicaCount"],
        deployed["dedicatedResources"]["maxReplicaCount"],
    ) == (1, 2)
    assert deployed["serviceAccount"] == spec().service_account
    assert undeploy.body["deployedModelId"] == OLD["id"]
    endpoint = server.apis.endpoints[ENDPOINT]
    assert [m["id"] for m in endpoint["deployedModels"]] == [deployed_id] and endpoint["trafficSplit"] == {
        deployed_id: 100
    }


def test_a_failed_deploy_leaves_the_old_model_serving_and_fails_the_step(server):
    server.apis.deploy_failures = 1

    with pytest.raises(GoogleAPICallError, match="never became ready"):
        release(spec(), api_endpoint=server.base_url, timeout=10)

    endpoint = server.apis.endpoints[ENDPOINT]
    assert [m["id"] for m in endpoint["deployedModels"]] == [OLD["id"]] and endpoint["trafficSplit"] == {
        OLD["id"]: 100
    }
    assert not server.apis.calls("POST", ":undeployModel")


def test_the_command_line_releases_what_cloud_build_passes(server, capsys):
    argv = [
        f"--endpoint={ENDPOINT}",
        f"--image={spec().image}",
        f"--env-json={json.dumps(ENV)}",
        f"--service-account={spec().service_account}",
        "--replicas=2-4",
        "--label=build=b1",
        f"--api-endpoint={server.base_url}",
    ]

    assert vertex_endpoint.main(argv) == 0

    (deploy,) = server.apis.calls("POST", ":deployModel")
    assert deploy.body["deployedModel"]["dedicatedResources"]["minReplicaCount"] == 2
    assert "deployed model" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"endpoint": "1001"}, "not an endpoint name"),
        ({"min_replicas": 0}, "replicas"),
        ({"min_replicas": 3, "max_replicas": 2}, "replicas"),
        ({"env": {**ENV, "AIP_HTTP_PORT": "9000"}}, "Vertex AI sets AIP_HTTP_PORT itself"),
    ],
)
def test_a_release_off_its_shape_is_refused_before_any_call(changes, message):
    with pytest.raises(ValueError, match=message):
        spec(**changes)


def test_the_routes_vertex_is_told_are_the_ones_the_container_and_the_local_stack_serve():
    routes = parse_vertex_routes(vertex_endpoint.HEALTH_ROUTE, vertex_endpoint.PREDICT_ROUTE)
    assert routes is not None and (routes.health, routes.predict) == (
        vertex_endpoint.HEALTH_ROUTE,
        vertex_endpoint.PREDICT_ROUTE,
    )
    assert AIP_ROUTES == {
        "AIP_HEALTH_ROUTE": vertex_endpoint.HEALTH_ROUTE,
        "AIP_PREDICT_ROUTE": vertex_endpoint.PREDICT_ROUTE,
    }
