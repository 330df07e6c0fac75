"""Start child processes, wait until they answer HTTP, and stop them all together."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_answers(url: str, process: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    """Poll `url` until it answers anything HTTP; fail early if the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}; see {log}:\n{_tail(log)}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s; see {log}:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Supervisor:
    """Owns every process it starts; `stop()` ends them all, children included."""

    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        ready_url: str,
        env: dict[str, str] | None = None,
        timeout: float = 60.0,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start a process and wait until `ready_url` answers."""
        process = self.spawn(name, argv, env=env, cwd=cwd)
        self.wait(name, ready_url, timeout)
        return process

    def spawn(
        self, name: str, argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a process without waiting, so slow starters (JVMs) can boot side by side."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path(name).open("ab") as out:
            # A session of its own, so stop() can signal the whole group: the gcloud
            # emulator wrappers start a JVM child that would otherwise outlive them.
            process = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def wait(self, name: str, ready_url: str, timeout: float = 60.0) -> None:
        wait_until_answers(ready_url, self.processes[name], timeout, self.log_path(name))

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def stop_one(self, name: str, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop_one(name)
