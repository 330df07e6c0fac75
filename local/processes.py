"""Start child processes, wait until they answer HTTP, restart the ones that die, stop them all.

The supervisor plays Cloud Run's part for the local stack: a child started with a
`RestartPolicy` that dies (a crash, an OOM kill, a test's SIGKILL) is reported on the console and
started again after a backoff that grows while it keeps dying, as Cloud Run replaces a crashed
instance. `stop()` ends every child at once, their own children included, and nothing is
restarted once it has begun.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

log = logging.getLogger("local.processes")
# Signals a console or `make` sends to stop the stack; held back while a child is being started,
# so that an interrupted start never leaves a child that no one knows about.
STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


# Ports for the stack's servers come from below the kernel's ephemeral range (32768-60999 by
# default), where every outgoing connection takes its local port: a port chosen there and freed
# for a child to bind was at times taken by some connection first, and the child could not
# listen (on a machine running several stacks, a stranger then answered on its port).
SERVER_PORTS = range(20000, 32768)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    for _ in range(100):
        port = random.choice(SERVER_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {SERVER_PORTS}")


def listening_inodes(port: int) -> set[str]:
    """The socket inodes listening on TCP `port` (Linux: /proc/net/tcp and tcp6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(fields[9])
    return inodes


def process_groups() -> dict[int, list[int]]:
    """The living processes of each process group (zombies are dead, only not reaped yet)."""
    groups: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            groups.setdefault(int(fields[2]), []).append(int(stat.parent.name))
    return groups


def group_members(pgid: int) -> list[int]:
    return process_groups().get(pgid, [])


def group_holds(pgid: int, inodes: set[str]) -> bool:
    """Whether a process of group `pgid` has one of these sockets open."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for pid in group_members(pgid):
        try:
            if any(os.readlink(fd) in wanted for fd in Path(f"/proc/{pid}/fd").iterdir()):
                return True
        except OSError:
            continue
    return False


def wait_until_answers(url: str, process: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    """Poll `url` until the process answers it, anything HTTP; fail early if the process dies.
    An answer on its port from a process not of its group does not count."""
    port = httpx.URL(url).port
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}; see {log}:\n{_tail(log)}")
        try:
            httpx.get(url, timeout=1.0)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        if port is None or group_holds(process.pid, listening_inodes(port)):
            return
        time.sleep(0.2)  # a stranger holds the port: the process will fail to bind, and exit
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s; see {log}:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def describe_exit(code: int) -> str:
    """`code 3` or `SIGKILL`, from a Popen return code."""
    if code >= 0:
        return f"code {code}"
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


@dataclass(frozen=True)
class RestartPolicy:
    """How a child that dies comes back: after `initial_backoff` seconds, doubling with each
    death in a row up to `max_backoff`; a child that ran `stable_after` seconds before dying
    starts the count again (Cloud Run backs off a crash-looping instance the same way)."""

    initial_backoff: float = 1.0
    max_backoff: float = 30.0
    stable_after: float = 60.0

    def __post_init__(self) -> None:
        if self.initial_backoff <= 0 or self.max_backoff < self.initial_backoff or self.stable_after <= 0:
            raise ValueError("backoffs must be positive, max_backoff >= initial_backoff, stable_after > 0")

    def delay(self, deaths_in_a_row: int) -> float:
        return float(min(self.max_backoff, self.initial_backoff * 2 ** (deaths_in_a_row - 1)))


@dataclass
class _Child:
    name: str
    argv: list[str]
    env: dict[str, str] | None
    cwd: Path | None
    process: subprocess.Popen[bytes]
    restart: RestartPolicy | None
    started: float
    deaths_in_a_row: int = 0
    restarts: int = 0
    restart_at: float | None = None  # dead, and due to start again then
    reported: bool = False  # dead for good (no policy), and said so


@dataclass
class Supervisor:
    """Owns every process it starts; `stop()` ends them all, children included.

    `poll_interval` is how often the watcher looks for dead children (and how late a restart
    may be); `stop_timeout` how long `stop()` waits after SIGTERM before it sends SIGKILL.
    """

    log_dir: Path
    poll_interval: float = 0.2
    stop_timeout: float = 10.0
    _children: dict[str, _Child] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Condition = field(default_factory=threading.Condition, init=False, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _watcher: threading.Thread | None = field(default=None, init=False, repr=False)

    @property
    def processes(self) -> dict[str, subprocess.Popen[bytes]]:
        """The current process of each child (a restarted child has a new one)."""
        with self._lock:
            return {name: child.process for name, child in self._children.items()}

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        ready_url: str,
        env: dict[str, str] | None = None,
        timeout: float = 60.0,
        cwd: Path | None = None,
        restart: RestartPolicy | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start a process and wait until `ready_url` answers."""
        process = self.spawn(name, argv, env=env, cwd=cwd, restart=restart)
        self.wait(name, ready_url, timeout)
        return process

    def spawn(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        restart: RestartPolicy | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start a process without waiting, so slow starters (JVMs) can boot side by side.
        With a `restart` policy it is started again whenever it dies, until `stop()`."""
        with self._lock:
            if self.stopping:
                raise RuntimeError(f"not starting {name}: the supervisor is stopping")
            process = self._popen(name, argv, env, cwd)
            self._children[name] = _Child(name, argv, env, cwd, process, restart, time.monotonic())
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, name="supervisor", daemon=True)
                self._watcher.start()
        return process

    def _popen(
        self, name: str, argv: list[str], env: dict[str, str] | None, cwd: Path | None
    ) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with _signals_held(), self.log_path(name).open("ab") as out:
            # A session of its own, so stop() can signal the whole group: the gcloud
            # emulator wrappers start a JVM child that would otherwise outlive them.
            return subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                start_new_session=True,
            )

    def wait(self, name: str, ready_url: str, timeout: float = 60.0) -> None:
        wait_until_answers(ready_url, self.processes[name], timeout, self.log_path(name))

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def restarts(self, name: str) -> int:
        """How many times the child has been started again after dying."""
        with self._lock:
            child = self._children.get(name)
            return child.restarts if child else 0

    def wait_for_restart(self, name: str, restarts: int, timeout: float) -> subprocess.Popen[bytes]:
        """The child's process once it has been restarted `restarts` times in all."""
        with self._lock:
            if not self._lock.wait_for(lambda: self.restarts(name) >= restarts, timeout):
                raise TimeoutError(f"{name} was not restarted within {timeout:.0f}s")
            return self._children[name].process

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal the child's whole group as a crash would; a child with a policy comes back."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.processes[name].pid, sig)

    # -- watching --------------------------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stopping.wait(self.poll_interval):
            with self._lock:
                for child in list(self._children.values()):
                    if not self.stopping:
                        self._look_after(child, time.monotonic())

    def _look_after(self, child: _Child, now: float) -> None:
        code = child.process.poll()
        if code is None:
            return
        if child.restart is None:
            if not child.reported:
                child.reported = True
                log.error(
                    "%s (pid %d) exited with %s; it is not restarted: see %s",
                    child.name,
                    child.process.pid,
                    describe_exit(code),
                    self.log_path(child.name),
                )
            return
        if child.restart_at is None:
            _kill_group(child.process.pid)  # what the dead leader left behind would hold its port
            lived = now - child.started
            child.deaths_in_a_row = 1 if lived >= child.restart.stable_after else child.deaths_in_a_row + 1
            delay = child.restart.delay(child.deaths_in_a_row)
            child.restart_at = now + delay
            log.error(
                "%s (pid %d) died with %s after %.1fs; restarting it in %.1fs (see %s)",
                child.name,
                child.process.pid,
                describe_exit(code),
                lived,
                delay,
                self.log_path(child.name),
            )
        elif now >= child.restart_at:
            child.process = self._popen(child.name, child.argv, child.env, child.cwd)
            child.started, child.restart_at = now, None
            child.restarts += 1
            log.warning("%s restarted (pid %d, restart %d)", child.name, child.process.pid, child.restarts)
            self._lock.notify_all()

    # -- stopping --------------------------------------------------------------------------------

    def stop_one(self, name: str, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Stop one child for good (it is not restarted)."""
        with self._lock:
            child = self._children.pop(name, None)
        if child is not None:
            _end_groups([child.process], sig, timeout)

    def stop(self) -> None:
        """End every child, all at once: SIGTERM to each group, SIGKILL to what is left after
        `stop_timeout`. Nothing is started or restarted once this has begun; a second call
        (a second signal, a `finally`) finds nothing left to do."""
        self._stopping.set()
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(timeout=self.stop_timeout)  # a restart in progress completes first
        with self._lock:
            children = list(self._children.values())
            self._children.clear()
        if children:
            log.info("stopping %d processes", len(children))
            _end_groups([child.process for child in children], signal.SIGTERM, self.stop_timeout)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back in this thread until the block ends (then they arrive)."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _end_groups(processes: list[subprocess.Popen[bytes]], sig: int, timeout: float) -> None:
    """Signal every process group at once, wait for all of them (leaders and members) to end,
    and SIGKILL the groups still alive after `timeout`."""
    for process in processes:
        _kill_group(process.pid, sig)
    alive = _wait_groups(processes, timeout)
    for process in alive:
        log.warning("pid %d did not stop within %.0fs; killing it", process.pid, timeout)
        _kill_group(process.pid)
    for process in _wait_groups(alive, timeout):
        log.error("pid %d's group survived SIGKILL: %s", process.pid, group_members(process.pid))


def _wait_groups(processes: list[subprocess.Popen[bytes]], timeout: float) -> list[subprocess.Popen[bytes]]:
    """Wait until each process and every member of its group has ended; those still alive."""
    deadline = time.monotonic() + timeout
    alive = list(processes)
    while alive:
        for process in alive:
            process.poll()  # reaps an ended leader
        groups = process_groups()
        alive = [p for p in alive if p.returncode is None or p.pid in groups]
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return alive
