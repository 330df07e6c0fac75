"""`python -m local.stack`, as `make up` runs it, from the outside: what its console says, what
its logs hold, and what is left once it is told to stop (twice, as make does)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from local.fake_telegram_client import FakeTelegram

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
# Recognisable, so that any log holding them is found; valid only at the stack's fake Bot API.
TOKEN = "424242:NEVER-PRINT-THIS-TOKEN-e2e"
SECRET = "never-print-this-webhook-secret"
START_TIMEOUT = 420.0  # two JVM emulators and a dozen Python servers on a busy two-core machine
CHAT_ID = 31_000_001


@dataclass
class Console:
    """The stack's stdout and stderr, line by line, as they come."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    ended: bool = False  # the stream is closed: no line will come any more

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def wait_for(self, pattern: str, timeout: float, after: int = 0) -> re.Match[str]:
        """The first line from line `after` on matching `pattern`."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for line in self.lines[after:]:
                    if found := re.search(pattern, line):
                        return found
                left = deadline - time.monotonic()
                if left <= 0 or self.ended:
                    tail = "\n".join(self.lines[-40:])
                    raise AssertionError(f"no line matching {pattern!r} within {timeout:.0f}s:\n{tail}")
                self.changed.wait(min(left, 1.0))

    def text(self) -> str:
        with self.changed:
            return "\n".join(self.lines)


def sessions_under(pid: int) -> set[int]:
    """The session ids of every process descended from `pid` (each child has a session of its
    own, and its own children stay in it even once the child is gone)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {session_of(child) for child in found} - {None, session_of(pid)}


def session_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[3])
    except (OSError, IndexError):
        return None


def command_lines(sessions: set[int]) -> list[str]:
    """The command lines of the processes in these sessions (what `ps` shows anyone)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if session_of(int(cmdline.parent.name)) in sessions:
                found.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return found


def living_in(sessions: set[int]) -> list[str]:
    """Processes (not zombies) in any of these sessions: what a stop left running."""
    left = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        if int(fields[3]) in sessions and fields[0] != "Z":
            left.append(f"{stat.parent.name}: {cmdline[:160]}")
    return left


def pid_running(module: str, sessions: set[int]) -> int:
    """The pid of the stack's child running `python -m <module>`."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        pid = int(cmdline.parent.name)
        if module.encode() in argv and session_of(pid) in sessions and session_of(pid) == pid:
            return pid
    raise AssertionError(f"no child runs {module}")


@dataclass
class Run:
    console: Console
    log_dir: Path
    sessions: set[int]
    command_lines: list[str]
    returncode: int


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """The stack started, used for one picture, a child killed, then SIGTERM twice and SIGINT."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith("_EMULATOR_HOST") and key not in ("TELEGRAM_API_BASE",)
    }
    env |= {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stack"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    console = Console(process)
    sessions: set[int] = set()
    try:
        console.wait_for(r"^webhook: ", START_TIMEOUT)
        log_dir = Path(console.wait_for(r"^logs: (.+)$", 1).group(1))
        api = console.wait_for(r"^telegram api: (.+)$", 1).group(1)
        with FakeTelegram(api) as telegram:
            telegram.send_text(chat_id=CHAT_ID, user_id=CHAT_ID, text="/pixel a beacon on a hill")
            telegram.wait_for_call("sendPhoto", lambda call: call.ok, timeout=180)
        sessions = sessions_under(process.pid)

        mark = len(console.lines)
        os.kill(pid_running("local.scheduler", sessions), signal.SIGKILL)
        console.wait_for(r"^scheduler \(pid \d+\) died with SIGKILL", 30, after=mark)
        console.wait_for(r"^scheduler restarted \(pid \d+, restart 1\)", 60, after=mark)
        sessions |= sessions_under(process.pid)
        commands = command_lines(sessions)

        mark = len(console.lines)
        os.kill(process.pid, signal.SIGTERM)
        console.wait_for(r"^stopping \d+ processes", 30, after=mark)
        os.kill(process.pid, signal.SIGTERM)  # make's second SIGTERM, while the stop runs
        os.kill(process.pid, signal.SIGINT)
        returncode = process.wait(timeout=120)
        yield Run(console, log_dir, sessions, commands, returncode)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for session in sessions:  # a failed stop must not leave them to the next test
            with contextlib.suppress(ProcessLookupError):
                os.killpg(session, signal.SIGKILL)


def test_a_double_sigterm_stops_everything_once_and_leaves_nothing_running(run: Run) -> None:
    assert run.returncode == 0, run.console.text()[-3000:]
    assert len(run.sessions) >= 12, run.sessions  # emulators, functions, GPU, stand-ins
    assert living_in(run.sessions) == []
    text = run.console.text()
    assert text.count("SIGTERM: stopping the stack") == 1
    assert "SIGTERM: the stack is already stopping; ignored" in text
    assert "SIGINT: the stack is already stopping; ignored" in text
    assert text.rstrip().endswith("stack stopped")


def test_a_child_that_dies_is_reported_on_the_console_and_restarted(run: Run) -> None:
    text = run.console.text()
    assert re.search(r"^scheduler \(pid \d+\) died with SIGKILL after [\d.]+s; restarting it in", text, re.M)
    assert re.search(r"^scheduler restarted \(pid \d+, restart 1\)$", text, re.M)


def test_no_log_the_stack_writes_holds_the_token_or_the_secret(run: Run) -> None:
    logs = [path for path in run.log_dir.rglob("*") if path.is_file()]
    assert {path.name for path in logs} >= {"fake_telegram.log", "deliver_image.log", "event_bridge.log"}
    assert "POST /bot<token>/sendPhoto" in (run.log_dir / "fake_telegram.log").read_text()  # logs are there
    assert len(run.command_lines) >= 12
    for secret in (TOKEN, SECRET, TOKEN.split(":")[1]):
        assert secret not in run.console.text()
        assert not [line for line in run.command_lines if secret in line], "a process list shows it"
        leaks = [path.name for path in logs if secret.encode() in path.read_bytes()]
        assert leaks == [], f"{secret!r} in {leaks}"
