"""The app's server listens on this computer only and makes no network request at start-up."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest
from servers import free_port, wait_until_ready

pytestmark = pytest.mark.slow  # see pyproject.toml: left out of the fast lane

ROOT = Path(__file__).resolve().parents[1]

# Runs `streamlit run` in-process with an audit hook that reports every name lookup and connection the server
# makes to anything but this computer.
SERVE_AND_WATCH = """
import sys

LOCAL = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "::", None, ""}

def watch(event, args):
    if event == "socket.getaddrinfo" and args[0] not in LOCAL:
        print(f"OUTBOUND lookup {args[0]}", file=sys.stderr, flush=True)
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and address[0] not in LOCAL:
            print(f"OUTBOUND connect {address}", file=sys.stderr, flush=True)

sys.addaudithook(watch)
from streamlit.web import cli
sys.argv = ["streamlit", "run", "streamlit_app.py", "--server.port", sys.argv[1]]
cli.main()
"""


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:
                found.add(address)
    return found


def test_the_config_binds_to_loopback_and_sends_no_usage_statistics():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["browser"]["gatherUsageStats"] is False


def test_the_server_listens_on_loopback_only_and_looks_nothing_up():
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE_AND_WATCH, str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/_stcore/health", server, lambda body: body == b"ok", seconds=60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
            assert reply.status == 200
        watched_until = time.monotonic() + 2  # the start-up's first seconds: anything it would still open
        while time.monotonic() < watched_until:
            assert _listening_addresses(port) <= {"0100007F"}
        listening = _listening_addresses(port)
        assert listening and listening <= {"0100007F"}, listening  # 127.0.0.1, not 0.0.0.0 or ::
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    assert "OUTBOUND" not in err, err
    assert "External URL" not in out and "Did not auto detect external IP" not in err + out
    assert f"http://127.0.0.1:{port}" in out


def test_uploads_are_received_in_memory_and_a_closed_tab_is_dropped_soon():
    import asyncio

    from starlette.requests import Request

    from face2data.limits import MAX_BATCH_BYTES
    from face2data.ui.uploads import keep_uploads_in_memory

    assert keep_uploads_in_memory() > MAX_BATCH_BYTES
    payload = os.urandom(3 * 2**20)  # over Starlette's default 1 MB spool size
    body = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n"
            b"Content-Type: image/jpeg\r\n\r\n" + payload + b"\r\n--b--\r\n")  # fmt: skip

    async def parse():
        chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]

        async def receive():
            return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)} if chunks else {
                "type": "http.request", "body": b"", "more_body": False}  # fmt: skip

        headers = [(b"content-type", b"multipart/form-data; boundary=b")]
        form = await Request({"type": "http", "method": "POST", "headers": headers}, receive).form()
        upload = form["file"]
        return upload.file._rolled, await upload.read()

    rolled_to_disk, data = asyncio.run(parse())
    assert data == payload and not rolled_to_disk
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["disconnectedSessionTTL"] <= 30
