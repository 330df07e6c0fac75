"""The supervisor as Cloud Run: a child that dies is reported and restarted with backoff, and
stop() ends every child at once, their own children included. Real processes, compressed time."""

from __future__ import annotations

import http.server
import logging
import os
import re
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from local.processes import RestartPolicy, Supervisor, free_port
from tests.support.waits import wait_until

# A child that serves HTTP on its port and, given a pid file, starts a grandchild in its own
# group that ignores SIGTERM (as the gcloud wrapper's JVM outlives the wrapper).
SERVER = textwrap.dedent(
    """
    import http.server, os, signal, subprocess, sys
    port, pidfile, stubborn = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "stubborn"
    if stubborn:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if pidfile != "-":
        ignore = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
        grandchild = subprocess.Popen([sys.executable, "-c", ignore])
        with open(pidfile, "w") as out:
            out.write(str(grandchild.pid))
    http.server.HTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler).serve_forever()
    """
)
FAST = RestartPolicy(initial_backoff=0.3, max_backoff=1.2, stable_after=30.0)


def server(port: int, pidfile: Path | None = None, stubborn: bool = False) -> list[str]:
    return [sys.executable, "-c", SERVER, str(port), str(pidfile or "-"), "stubborn" if stubborn else "-"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead, only not yet reaped by its parent.
    return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    supervisor = Supervisor(tmp_path, poll_interval=0.05, stop_timeout=3.0)
    yield supervisor
    supervisor.stop()


def test_a_child_killed_is_reported_and_restarted_on_its_port(
    supervisor: Supervisor, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    first = supervisor.start("web", server(port), ready_url=url, restart=FAST)

    with caplog.at_level(logging.WARNING, logger="local.processes"):
        supervisor.kill("web")
        second = supervisor.wait_for_restart("web", 1, timeout=10)
        supervisor.wait("web", url, timeout=10)

    assert second.pid != first.pid and first.poll() == -signal.SIGKILL
    assert httpx.get(url).status_code == 200
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith(f"web (pid {first.pid}) died with SIGKILL") for m in messages), messages
    assert any(m.startswith(f"web restarted (pid {second.pid}, restart 1)") for m in messages), messages


def test_a_child_that_keeps_dying_is_restarted_with_growing_pauses(
    supervisor: Supervisor, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="local.processes"):
        supervisor.spawn("crash", [sys.executable, "-c", "raise SystemExit(3)"], restart=FAST)
        starts = [time.monotonic()]
        for restarts in range(1, 5):
            supervisor.wait_for_restart("crash", restarts, timeout=10)
            starts.append(time.monotonic())

    # The delays the supervisor chose: doubling from 0.3 s, capped at 1.2 s.
    delays = [
        float(m.group(1))
        for r in caplog.records
        if (m := re.search(r"restarting it in ([\d.]+)s", r.getMessage()))
    ]
    assert delays[:4] == [0.3, 0.6, 1.2, 1.2], delays
    assert all("died with code 3" in record.getMessage() for record in caplog.records)
    # And it kept to them: each restart came no sooner than its delay after the last one (the
    # rest of each pause is the child's own run and the watcher's poll).
    pauses = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert all(pause >= delay for pause, delay in zip(pauses, delays, strict=False)), (pauses, delays)


def test_a_child_stopped_on_purpose_or_without_a_policy_is_not_restarted(
    supervisor: Supervisor, caplog: pytest.LogCaptureFixture
) -> None:
    kept, plain = free_port(), free_port()
    supervisor.start("kept", server(kept), ready_url=f"http://127.0.0.1:{kept}/", restart=FAST)
    supervisor.start("plain", server(plain), ready_url=f"http://127.0.0.1:{plain}/")
    with caplog.at_level(logging.ERROR, logger="local.processes"):
        supervisor.stop_one("kept")
        supervisor.kill("plain")
        wait_until(lambda: caplog.records, 5, "the supervisor's report of the death", interval=0.05)

    assert "kept" not in supervisor.processes
    assert supervisor.restarts("plain") == 0
    assert [record.getMessage().split(" (pid")[0] for record in caplog.records] == ["plain"]
    assert "not restarted" in caplog.records[0].getMessage()


def test_stop_ends_every_group_at_once_grandchildren_included(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path, poll_interval=0.05, stop_timeout=2.0)
    grandchildren = [tmp_path / f"grandchild-{i}.pid" for i in range(3)]
    children = []
    for i, pidfile in enumerate(grandchildren):
        port = free_port()
        children.append(
            supervisor.start(
                f"web-{i}",
                server(port, pidfile, stubborn=True),
                ready_url=f"http://127.0.0.1:{port}/",
                restart=FAST,
            )
        )
    pids = [int(pidfile.read_text()) for pidfile in grandchildren]

    started = time.monotonic()
    supervisor.stop()
    took = time.monotonic() - started

    # Each child and grandchild ignores SIGTERM, so each group waits the whole stop_timeout for
    # its SIGKILL: one after another that would be three timeouts.
    assert took < 2 * supervisor.stop_timeout, f"stopped one after another ({took:.1f}s)"
    assert [alive(child.pid) for child in children] == [False] * 3
    assert [alive(pid) for pid in pids] == [False] * 3
    assert supervisor.processes == {}
    with pytest.raises(RuntimeError, match="stopping"):
        supervisor.spawn("late", server(free_port()))


def test_a_stranger_answering_on_the_childs_port_does_not_make_it_ready(supervisor: Supervisor) -> None:
    """Another process took the port first (another stack on the machine, say): it answers HTTP
    there, but the child cannot listen and exits; waiting must say so, not route to the stranger."""
    port = free_port()
    stranger = http.server.HTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=stranger.serve_forever, daemon=True).start()
    try:
        with pytest.raises(RuntimeError, match="exited with 1"):
            supervisor.start("late", server(port), ready_url=f"http://127.0.0.1:{port}/", timeout=30)
    finally:
        stranger.shutdown()
        stranger.server_close()
