"""A tiny stand-in for the Hugging Face Hub over real HTTP, for huggingface_hub's downloads.

It answers the few requests `snapshot_download` makes, the way the Hub does:

    GET  /api/models/<repo>/revision/<rev>   repository info, with the commit the revision is at
    GET  /api/models/<repo>/tree/<rev>       the file listing (one page)
    HEAD /<repo>/resolve/<rev>/<path>        X-Repo-Commit, ETag and Content-Length of a file
    GET  /<repo>/resolve/<rev>/<path>        the file

so the preparation command runs its real download code against files a test made. Every
request is recorded, so a test can check what was (and was not) downloaded.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class FakeRepo:
    commit: str  # 40 hex digits; "main" and the commit itself resolve to it
    files: dict[str, bytes] = field(default_factory=dict)

    def add_folder(self, folder: Path, prefix: str = "") -> FakeRepo:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                self.files[f"{prefix}{path.relative_to(folder).as_posix()}"] = path.read_bytes()
        return self


@dataclass
class FakeHub:
    repos: dict[str, FakeRepo]
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)

    def downloaded(self) -> list[str]:
        """Paths of every file body served, as "<repo>/<path>"."""
        return [
            path.replace("/resolve/", "/", 1)
            for method, path in self.requests
            if method == "GET" and "/resolve/" in path
        ]

    def __call__(self, environ, start_response):  # a WSGI app
        request = Request(environ)
        self.requests.append((request.method, request.path))
        return self._answer(request)(environ, start_response)

    def _answer(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/api/models/"):
            rest = path[len("/api/models/") :]
            for marker, listing in (("/revision/", False), ("/tree/", True)):
                repo_id, found, revision = rest.partition(marker)
                if found:
                    repo = self._resolve(repo_id, revision.split("/")[0])
                    if repo is None:
                        return _not_found(
                            request, "Revision Not Found" if repo_id in self.repos else "Repository Not Found"
                        )
                    if listing:
                        return _json(
                            [
                                {"type": "file", "path": name, "size": len(data), "oid": _oid(data)}
                                for name, data in sorted(repo.files.items())
                            ]
                        )
                    return _json(
                        {
                            "id": repo_id,
                            "sha": repo.commit,
                            "siblings": [{"rfilename": name} for name in sorted(repo.files)],
                        }
                    )
        repo_id, found, rest = path.lstrip("/").partition("/resolve/")
        if found:
            revision, _, name = rest.partition("/")
            repo = self._resolve(repo_id, revision)
            if repo is None or name not in repo.files:
                return _not_found(request, "Entry Not Found")
            data = repo.files[name]
            # The body goes with HEAD too: werkzeug's server then sends the right Content-Length
            # and leaves the body out, as HTTP requires.
            return Response(data, headers={"X-Repo-Commit": repo.commit, "ETag": f'"{_oid(data)}"'})
        return _not_found(request, "Not Found")

    def _resolve(self, repo_id: str, revision: str) -> FakeRepo | None:
        repo = self.repos.get(repo_id)
        if repo is None or revision not in ("main", repo.commit):
            return None
        return repo


def commit_for(name: str) -> str:
    """A commit-shaped hash for a fake repository."""
    return hashlib.sha1(name.encode()).hexdigest()


@contextmanager
def serving(hub: FakeHub) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, hub, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="fake-hub", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _oid(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json(body: object) -> Response:
    return Response(json.dumps(body), mimetype="application/json")


def _not_found(request: Request, message: str) -> Response:
    # The Hub says which kind of "not found" in a header; huggingface_hub maps it to an error.
    code = {"Repository Not Found": "RepoNotFound", "Revision Not Found": "RevisionNotFound"}.get(
        message, "EntryNotFound"
    )
    return Response(
        json.dumps({"error": message}), status=404, headers={"X-Error-Code": code, "X-Error-Message": message}
    )
