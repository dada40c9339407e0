"""Servers in tests: a free port, and waiting without fixed sleeps (poll until ready, fail with what was awaited)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far (user and system, all threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def is_idle(pid: int, seconds: float = 0.5) -> bool:
    """Whether the process uses under a tenth of a core over the next ``seconds``."""
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return cpu_seconds(pid) - before < 0.1 * seconds


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], T], seconds: float, what: str | Callable[[], str], every: float = 0.05) -> T:
    """The first truthy value of ``check()``, polled every ``every`` seconds; fails the test after ``seconds``
    with ``what`` (a callable is called then, e.g. to show a log's tail)."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds} s for {what() if callable(what) else what}")
        time.sleep(every)


def answers(url: str, ready: Callable[[bytes], bool] = lambda body: True) -> bool:
    """Whether ``url`` answers now with a body that ``ready`` accepts."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return ready(response.read())
    except OSError:
        return False


def wait_until_ready(
    url: str,
    server: subprocess.Popen,
    ready: Callable[[bytes], bool] = lambda body: True,
    seconds: float = 120,
    log: Callable[[], str] = lambda: "",
) -> None:
    """Wait until the server started as ``server`` answers ``url`` as ``ready`` accepts; fail the test at once
    when the server exits, or after ``seconds``, with the tail of its ``log``."""

    def up() -> bool:
        if server.poll() is not None:
            pytest.fail(f"the server exited with {server.returncode}:\n{log()[-3000:]}")
        return answers(url, ready)

    wait_until(up, seconds, lambda: f"{url} to answer:\n{log()[-3000:]}", every=0.5)
