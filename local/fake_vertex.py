"""A local stand-in for Vertex AI's REST API: enough of Gemini's `generateContent` and of an
endpoint's `predict` for the SDKs (REST transport, `api_endpoint="http://127.0.0.1:<port>"`) to
run their real client code.

generateContent "translates" with a small Russian-English word table (tests may set exact
answers), counts its calls, and can be made slow, so tests see a translation, a cache hit (no
new call) and a timeout. The response carries the fields the SDK parses:
candidates[].content.parts[].text, finishReason, safetyRatings and usageMetadata. A prompt with
one of SAFETY_VERDICTS' marker words gets Gemini's answer to an unsafe prompt: the prompt
blocked (promptFeedback.blockReason, no candidate), the answer stopped for safety, or a
translation rated HIGH for sexual content (Vertex AI's default thresholds block little); every
other answer is rated NEGLIGIBLE in each category, as Gemini rates a harmless prompt.

endpoints/<id>:predict does what Vertex AI does for a custom container: it forwards the
`{"instances": [...]}` body to the container's predict route (`--predict-target`, the local GPU
service's AIP_PREDICT_ROUTE) and wraps its `predictions` with the deployed model's id. Without a
target, or when a test scripts it, it answers from `predict_answer`; `predict_failures` makes
the next N calls fail 503 as an endpoint without a ready replica does.

The local stack runs it as a process: `python -m local.fake_vertex --port=N` (GET /_fake/health
answers when it is up; GET /_fake/predictions lists the job ids predicted, POST
/_fake/predict_failures {"count": N} scripts failures).
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_GENERATE = re.compile(
    r"^/v1[^/]*/projects/[^/]+/locations/[^/]+/publishers/google/models/(?P<model>[^/:]+):generateContent"
)
_PREDICT = re.compile(r"^/v1[^/]*/projects/[^/]+/locations/[^/]+/endpoints/(?P<endpoint>[^/:]+):predict")
_PROMPT_LINE = re.compile(r"^Prompt: (?P<prompt>.*)$", re.MULTILINE | re.DOTALL)

WORDS = {
    "кот": "cat",
    "кошка": "cat",
    "рыжий": "ginger",
    "рыжая": "red",
    "лиса": "fox",
    "лису": "fox",
    "в": "in",
    "на": "on",
    "и": "and",
    "снегу": "the snow",
    "снег": "snow",
    "замок": "castle",
    "горы": "mountains",
    "море": "sea",
    "закат": "sunset",
    "собака": "dog",
    "город": "city",
    "ночной": "night",
    "лес": "forest",
    "космос": "space",
    "красивый": "beautiful",
}


ENHANCEMENT = ", highly detailed, soft light, rich colours"

CATEGORIES = (
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
)
# A marker word in the prompt -> how Gemini answers it (like the tiny GPU's "flagme").
BLOCKED_PROMPT, STOPPED_FOR_SAFETY, RATED_HIGH = "geminiblock", "geminisafety", "geminihigh"
SAFETY_VERDICTS = (BLOCKED_PROMPT, STOPPED_FOR_SAFETY, RATED_HIGH)


def safety_ratings(high: str | None = None, blocked: bool = False) -> list[dict[str, Any]]:
    """Gemini's ratings of a prompt: NEGLIGIBLE in each category, or HIGH in `high`."""
    return [
        {
            "category": category,
            "probability": "HIGH" if category == high else "NEGLIGIBLE",
            "probabilityScore": 0.97 if category == high else 0.02,
            "severity": "HARM_SEVERITY_HIGH" if category == high else "HARM_SEVERITY_NEGLIGIBLE",
            **({"blocked": True} if blocked and category == high else {}),
        }
        for category in CATEGORIES
    ]


def translate_words(text: str) -> str:
    return " ".join(WORDS.get(word.lower(), word) for word in text.split())


DEPLOYED_MODEL_ID = "1234567890"
PREDICT_TIMEOUT_SECONDS = 600  # Vertex AI's own limit on a prediction request


class FakeVertex:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, predict_target: str | None = None) -> None:
        self.answers: dict[str, str] = {}  # the user's prompt -> the model's answer
        self.delay_seconds = 0.0
        self.calls: list[dict[str, Any]] = []  # {"model", "prompt", "text"} per generateContent
        self.predict_target = predict_target  # the container's predict route
        # Scripted predictions (an instance -> its prediction), instead of the container's.
        self.predict_answer: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.predict_failures = 0  # the next N predict calls answer 503
        self.predicted: list[Any] = []  # every instance's job_id, in order, failed calls included
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-vertex", daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeVertex:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.answers.clear()
            self.calls.clear()
            self.delay_seconds = 0.0
            self.predict_answer = None
            self.predict_failures = 0
            self.predicted.clear()

    def calls_for(self, prompt: str) -> int:
        with self._lock:
            return sum(1 for call in self.calls if call["prompt"] == prompt)

    def _answer(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        text = "".join(
            part.get("text", "") for content in body.get("contents", []) for part in content.get("parts", [])
        )
        match = _PROMPT_LINE.search(text)
        prompt = match.group("prompt").strip() if match else text
        with self._lock:
            self.calls.append({"model": model, "prompt": prompt, "text": text})
            answer = self.answers.get(prompt) or translate_words(prompt)
            if text.startswith("Expand"):  # translation.instruction with enhance
                answer += ENHANCEMENT
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        verdict = next((word for word in SAFETY_VERDICTS if word in prompt.lower()), None)
        sexual = "HARM_CATEGORY_SEXUALLY_EXPLICIT"
        candidate: dict[str, Any] = {
            "content": {"role": "model", "parts": [{"text": answer}]},
            "finishReason": "STOP",
            "safetyRatings": safety_ratings(sexual if verdict == RATED_HIGH else None),
        }
        if verdict == STOPPED_FOR_SAFETY:
            answer = ""
            candidate = {"finishReason": "SAFETY", "safetyRatings": safety_ratings(sexual, blocked=True)}
        usage = {
            "promptTokenCount": len(text) // 4,
            "candidatesTokenCount": len(answer) // 4,
            "totalTokenCount": len(text) // 4 + len(answer) // 4,
        }
        if verdict == BLOCKED_PROMPT:
            return {
                "promptFeedback": {
                    "blockReason": "PROHIBITED_CONTENT",
                    "blockReasonMessage": "The prompt is blocked due to prohibited contents.",
                },
                "usageMetadata": {"promptTokenCount": len(text) // 4, "totalTokenCount": len(text) // 4},
                "modelVersion": model,
            }
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model}

    def _predict(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        instances = body.get("instances")
        if not isinstance(instances, list) or not instances:
            return 400, _error(400, "instances must be a non-empty list", "INVALID_ARGUMENT")
        with self._lock:
            self.predicted.extend(i.get("job_id") if isinstance(i, dict) else None for i in instances)
            failing = self.predict_failures > 0
            self.predict_failures -= failing
            answer = self.predict_answer
        if failing:
            return 503, _error(503, "no replica of the deployed model is ready", "UNAVAILABLE")
        if answer is not None:
            predictions = [answer(instance) for instance in instances]
        elif self.predict_target is None:
            return 404, _error(404, "no model is deployed to this endpoint", "NOT_FOUND")
        else:
            status, reply = _post_json(self.predict_target, body)
            if status != 200:
                # Vertex passes the container's error on; a 5xx becomes the caller's UNAVAILABLE.
                return status, _error(
                    status, json.dumps(reply)[:500], "UNAVAILABLE" if status >= 500 else "FAILED_PRECONDITION"
                )
            predictions = reply.get("predictions", [])
        return 200, {"predictions": predictions, "deployedModelId": DEPLOYED_MODEL_ID}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/_fake/health":
                    self._send(200, {"ok": True})
                elif self.path == "/_fake/predictions":
                    with fake._lock:
                        self._send(200, {"job_ids": list(fake.predicted)})
                else:
                    self._send(404, _error(404, "not found", "NOT_FOUND"))

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                if match := _GENERATE.match(self.path):
                    self._send(200, fake._answer(match.group("model"), body))
                elif _PREDICT.match(self.path):
                    self._send(*fake._predict(body))
                elif self.path == "/_fake/predict_failures":
                    with fake._lock:
                        fake.predict_failures = int(body.get("count", 0))
                    self._send(200, {"ok": True})
                else:
                    self._send(404, _error(404, f"no such method: {self.path}", "NOT_FOUND"))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _error(code: int, message: str, status: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


def _post_json(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=PREDICT_TIMEOUT_SECONDS) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"{}")
        except ValueError:
            return error.code, {}
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        return 503, {"error": str(error)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description="A local stand-in for Vertex AI's generateContent and endpoint predict"
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--predict-target", help="the GPU container's predict route (AIP_PREDICT_ROUTE), as a URL"
    )
    args = parser.parse_args()
    fake = FakeVertex(port=args.port, predict_target=args.predict_target)
    fake._server.serve_forever()  # in the foreground: the stack's supervisor stops the process


if __name__ == "__main__":
    main()
