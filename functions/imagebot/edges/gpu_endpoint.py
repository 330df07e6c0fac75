"""The Vertex AI endpoint that serves the GPU container: one predict call per job (the edge).

The container answers `{"instances": [job]}` with `{"predictions": [what became of it]}`
(gpu_service/prediction.py) and writes the picture to the images bucket itself, so delivery is
the same as for the Cloud Run service. Through google-cloud-aiplatform's PredictionService
client; `api_endpoint` points it at a local stand-in (tests, the local stack) over REST.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Predict = Callable[[dict[str, Any]], dict[str, Any]]


class EndpointUnavailable(RuntimeError):
    """The endpoint gave no prediction for the job: down, undeployed, overloaded, timed out."""


def vertex_predict(endpoint: str, region: str, timeout: float, api_endpoint: str = "") -> Predict:
    """A function that sends one job to the endpoint and returns its prediction."""
    # Imported here: only dispatch_vertex instances pay for the client (about 1.5 s).
    from google.api_core.client_options import ClientOptions
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.aiplatform_v1 import PredictionServiceClient
    from google.protobuf import json_format, struct_pb2
    from requests import RequestException

    client = PredictionServiceClient(
        # REST: the same protocol in the cloud and against the local stand-in.
        transport="rest",
        client_options=ClientOptions(api_endpoint=api_endpoint or f"{region}-aiplatform.googleapis.com"),
        credentials=AnonymousCredentials() if api_endpoint else None,  # never sent to Google
    )

    def predict(instance: dict[str, Any]) -> dict[str, Any]:
        try:
            response = client.predict(
                endpoint=endpoint,
                instances=[json_format.ParseDict(instance, struct_pb2.Value())],
                timeout=timeout,
            )
        except (GoogleAPIError, RequestException) as error:
            raise EndpointUnavailable(f"{type(error).__name__}: {error}") from error
        predictions = [json_format.MessageToDict(value) for value in response._pb.predictions]
        if len(predictions) != 1 or not isinstance(predictions[0], dict):
            raise EndpointUnavailable(f"expected one prediction, got {len(predictions)}")
        return predictions[0]

    return predict
