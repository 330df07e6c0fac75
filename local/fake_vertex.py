"""A local stand-in for Vertex AI's Gemini REST API: enough of `generateContent` for the Vertex
AI SDK (REST transport, `api_endpoint="http://127.0.0.1:<port>"`) to run its real client code.

It "translates" with a small Russian-English word table (tests may set exact answers), counts
its calls, and can be made slow, so tests see a translation, a cache hit (no new call) and a
timeout. The response carries the fields the SDK parses: candidates[].content.parts[].text,
finishReason and usageMetadata. The local stack runs it as a process:
`python -m local.fake_vertex --port=N` (GET /_fake/health answers when it is up).
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_GENERATE = re.compile(r"^/v1[^/]*/projects/[^/]+/locations/[^/]+/publishers/google/models/(?P<model>[^/:]+):generateContent")
_PROMPT_LINE = re.compile(r"^Prompt: (?P<prompt>.*)$", re.MULTILINE | re.DOTALL)

WORDS = {
    "кот": "cat", "кошка": "cat", "рыжий": "ginger", "рыжая": "red", "лиса": "fox", "лису": "fox",
    "в": "in", "на": "on", "и": "and", "снегу": "the snow", "снег": "snow", "замок": "castle",
    "горы": "mountains", "море": "sea", "закат": "sunset", "собака": "dog", "город": "city",
    "ночной": "night", "лес": "forest", "космос": "space", "красивый": "beautiful",
}


ENHANCEMENT = ", highly detailed, soft light, rich colours"


def translate_words(text: str) -> str:
    return " ".join(WORDS.get(word.lower(), word) for word in text.split())


class FakeVertex:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.answers: dict[str, str] = {}  # the user's prompt -> the model's answer
        self.delay_seconds = 0.0
        self.calls: list[dict[str, Any]] = []  # {"model", "prompt"} per generateContent
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

    def calls_for(self, prompt: str) -> int:
        with self._lock:
            return sum(1 for call in self.calls if call["prompt"] == prompt)

    def _answer(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        text = "".join(part.get("text", "") for content in body.get("contents", []) for part in content.get("parts", []))
        match = _PROMPT_LINE.search(text)
        prompt = match.group("prompt").strip() if match else text
        with self._lock:
            self.calls.append({"model": model, "prompt": prompt})
            answer = self.answers.get(prompt) or translate_words(prompt)
            if text.startswith("Expand"):  # translation.instruction with enhance
                answer += ENHANCEMENT
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        return {
            "candidates": [{"content": {"role": "model", "parts": [{"text": answer}]}, "finishReason": "STOP"}],
            "usageMetadata": {
                "promptTokenCount": len(text) // 4,
                "candidatesTokenCount": len(answer) // 4,
                "totalTokenCount": len(text) // 4 + len(answer) // 4,
            },
            "modelVersion": model,
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/_fake/health":
                    self._send(200, {"ok": True})
                else:
                    self._send(404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                match = _GENERATE.match(self.path)
                if match is None:
                    self._send(404, {"error": {"code": 404, "message": f"no such method: {self.path}", "status": "NOT_FOUND"}})
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                self._send(200, fake._answer(match.group("model"), body))

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


def main() -> None:
    parser = argparse.ArgumentParser(description="A local stand-in for Vertex AI's Gemini generateContent")
    parser.add_argument("--port", type=int, required=True)
    fake = FakeVertex(port=parser.parse_args().port)
    fake._server.serve_forever()  # in the foreground: the stack's supervisor stops the process


if __name__ == "__main__":
    main()
