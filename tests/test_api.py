"""The HTTP API through FastAPI's TestClient, and once through a real uvicorn server on a loopback port."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import astronaut_face_crop
from fastapi import HTTPException
from fastapi.testclient import TestClient
from servers import cpu_seconds, free_port, wait_until, wait_until_ready
from test_image_loading import BAD_INPUTS, jpeg_claiming

from face2data.api import app as api_app
from face2data.api import requests
from face2data.api.app import API_KEY_VARIABLE, _explain, create_app
from face2data.api.requests import MAX_PARTS
from face2data.cli import main as cli_main
from face2data.image_loading import ImageLoadError, ImageTooLargeError, UnsupportedImageError, load_rgb
from face2data.limits import MAX_FILE_BYTES
from face2data.schema import CLASS_HEADS, HEADS, INPUT_SIZE

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "face2data" / "assets" / "astronaut.jpg"


@pytest.fixture(scope="module")
def client(shipped_tflite_path):
    with TestClient(create_app()) as test_client:
        yield test_client


def _expected_status(data: bytes) -> int:
    try:
        load_rgb(data)
    except ImageTooLargeError:
        return 413
    except UnsupportedImageError:
        return 415
    except ImageLoadError:
        return 400
    raise AssertionError("a bad input was accepted")


def test_health_names_the_model(client):
    body = client.get("/health").json()
    assert body["status"] == "ready" and body["model"]["file"] == "face2data.tflite"
    assert len(body["model"]["sha256"]) == 64 and body["model"]["bytes"] > 1_000_000


def test_model_facts(client):
    body = client.get("/v1/model").json()
    assert body["genders"] == ["male", "female"] and len(body["ethnicities"]) == 5 and body["input_size"] == INPUT_SIZE
    assert body["ages"] == {"min": 0, "max": 116} and body["intended_use"] and body["limits"]
    assert "utkface" in body["test_metrics"] and 0 < body["test_metrics"]["utkface"]["gender_accuracy"] <= 1
    assert set(body["temperatures"]) <= {head.name for head in CLASS_HEADS}  # the shipped file's, when calibrated


def test_predict_as_multipart_and_raw_body_equals_the_cli(client, capsys):
    data = SAMPLE.read_bytes()
    multipart = client.post("/v1/predict", files={"file": ("astronaut.jpg", data, "image/jpeg")})
    raw = client.post("/v1/predict", content=data, headers={"Content-Type": "image/jpeg"})
    assert multipart.status_code == raw.status_code == 200
    capsys.readouterr()
    assert cli_main(["predict", "--json", str(SAMPLE)]) == 0
    cli = json.loads(capsys.readouterr().out)[0]
    assert multipart.json()["faces"] == raw.json()["faces"] == cli["faces"]
    assert multipart.json()["file"] == "astronaut.jpg" and len(cli["faces"]) == 1


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_every_bad_input_gets_its_4xx_and_the_loaders_message(client, name):
    make, message = BAD_INPUTS[name]
    data = make()
    response = client.post("/v1/predict", files={"file": ("upload.bin", data, "application/octet-stream")})
    expected = 400 if not data else _expected_status(data)
    assert response.status_code == expected, response.text
    detail = response.json()["detail"]
    assert message in detail or (not data and "no file" in detail)


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"content": b"", "headers": {"Content-Type": "image/jpeg"}}, 400),  # no file
        ({"content": b'{"a": 1}', "headers": {"Content-Type": "application/json"}}, 415),
        ({"content": b"--x\r\n", "headers": {"Content-Type": "multipart/form-data"}}, 422),  # no boundary
        ({"files": {"photo": ("a.jpg", b"123", "image/jpeg")}}, 400),  # no field named "file"
        (
            {
                "content": b"--x\r\nnot a header\r\n\r\n1\r\n--x--\r\n",
                "headers": {"Content-Type": "multipart/form-data; boundary=x"},
            },
            422,
        ),  # a part whose header line has no colon
    ],
)
def test_malformed_requests(client, kwargs, status):
    response = client.post("/v1/predict", **kwargs)
    assert response.status_code == status and response.json()["detail"]


def test_a_body_over_the_limit_is_refused_by_its_declared_length(client):
    response = client.post(
        "/v1/predict", content=b"x" * 1024, headers={"Content-Type": "image/jpeg", "Content-Length": str(2**30)}
    )
    assert response.status_code == 413 and "too large" in response.json()["detail"]


def test_bodies_held_at_once_are_bounded_and_always_let_go(client, monkeypatch):
    # Twenty clients that each sent 49 MB and stalled held a gigabyte: what bodies hold at once has a ceiling
    data = SAMPLE.read_bytes()
    monkeypatch.setattr(requests.BODIES, "most", len(data) - 1)
    refused = client.post("/v1/predict", content=data, headers={"Content-Type": "image/jpeg"})
    assert (
        refused.status_code == 503 and refused.headers["retry-after"] and "too many uploads" in refused.json()["detail"]
    )
    assert requests.BODIES.held == 0
    monkeypatch.setattr(requests.BODIES, "most", len(data))
    assert client.post("/v1/predict", content=data, headers={"Content-Type": "image/jpeg"}).status_code == 200
    assert (
        client.post("/v1/predict", content=b"not an image", headers={"Content-Type": "image/jpeg"}).status_code == 415
    )
    assert requests.BODIES.held == 0


def test_a_client_that_stalls_mid_body_gets_a_408_and_its_bytes_are_let_go():
    import anyio
    from starlette.requests import Request

    async def receive():
        if not sent:
            sent.append(True)
            return {"type": "http.request", "body": b"first part", "more_body": True}
        await anyio.sleep(60)  # the rest never comes

    async def read():
        request = Request({"type": "http", "method": "POST", "headers": []}, receive)
        await requests.read_body(request, held=held, idle_seconds=0.2)

    sent: list[bool] = []
    held = requests.BodyBytes()
    with pytest.raises(HTTPException) as stalled:
        anyio.run(read)
    assert stalled.value.status_code == 408 and "stalled" in stalled.value.detail and held.held == 0


@pytest.mark.slow
def test_explain_returns_regions_overlays_and_values_on_request(client, capsys):
    data = SAMPLE.read_bytes()
    response = client.post("/v1/explain?arrays=true", content=data, headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["face"] == 1 and set(body["explained"]) == set(HEADS)
    for head in body["explained"].values():
        png = cv2.imdecode(np.frombuffer(base64.b64decode(head["overlay_png"]), np.uint8), cv2.IMREAD_COLOR)
        assert png is not None and png.shape[2] == 3
        values = np.array(head["values"])
        assert values.shape == (INPUT_SIZE, INPUT_SIZE)
        assert head["base_value"] + values.sum() == pytest.approx(head["output"], abs=1e-3)
    regions = body["regions"]
    assert set(regions["heads"]) == set(HEADS) and "Exact Shapley" in regions["method"]
    for head in regions["heads"].values():
        values = head["regions"]
        assert len(values) == 10 and "left eye" in values and "mouth" in values
        assert sum(values.values()) == pytest.approx(head["output"] - head["base_value"], abs=1e-3)
    assert regions["heads"]["age"]["unit"] == "years" and regions["heads"]["gender"]["unit"] == "percentage points"
    # the region values alone, as `python -m face2data explain PHOTO --json` prints them
    only = client.post("/v1/explain?pixels=false", content=data, headers={"Content-Type": "image/jpeg"}).json()
    assert "explained" not in only and only["regions"] == regions
    from face2data.cli import main

    assert main(["explain", str(SAMPLE), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["regions"] == regions
    missing = client.post("/v1/explain?face=3", content=data, headers={"Content-Type": "image/jpeg"})
    assert missing.status_code == 404 and "1 face" in missing.json()["detail"]
    assert client.post("/v1/explain?face=0", content=data, headers={"Content-Type": "image/jpeg"}).status_code == 422


@pytest.mark.parametrize("query", ["face=0", "face=%3Cscript%3E", "pixels=maybe", "exact=2&face=1e9"])
def test_a_bad_query_value_gets_a_422_sentence_that_does_not_echo_it(client, query):
    response = client.post(f"/v1/explain?{query}", content=b"x", headers={"Content-Type": "image/jpeg"})
    detail = response.json()["detail"]
    assert response.status_code == 422 and isinstance(detail, str) and detail.startswith("malformed request: query")
    assert "script" not in detail and "maybe" not in detail and "1e9" not in detail


def test_the_api_key_is_required_when_set(shipped_tflite_path, monkeypatch):
    monkeypatch.setenv(API_KEY_VARIABLE, "s3cret")
    with TestClient(create_app()) as keyed:
        assert keyed.get("/v1/model").status_code == 401
        assert keyed.get("/v1/model", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert keyed.get("/v1/model", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert keyed.get("/v1/model", headers={"Authorization": "bearer s3cret"}).status_code == 200  # any case
        for wrong in ("Basic s3cret", "Bearer", "s3cret", "Bearer s3cret2"):
            assert keyed.get("/v1/model", headers={"Authorization": wrong}).status_code == 401
        assert keyed.get("/health").status_code == 200  # health checks stay open


@contextlib.contextmanager
def serving(log: Path) -> Iterator[tuple[str, int, int]]:
    """``python -m face2data serve`` on a free loopback port, once it says ready: its host, port and process id.
    Its output goes to ``log``."""
    port = free_port()
    with log.open("wb") as output:
        server = subprocess.Popen([sys.executable, "-m", "face2data", "serve", "--port", str(port)], cwd=ROOT,
                                  stdout=output, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/health", server, lambda body: json.loads(body)["status"] == "ready",
                         log=log.read_text)  # fmt: skip
        yield "127.0.0.1", port, server.pid
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.slow
def test_the_real_server_answers_over_http(shipped_tflite_path, tmp_path):
    log = tmp_path / "server.log"
    with serving(log) as (host, port, _):
        url = f"http://{host}:{port}"
        request = urllib.request.Request(f"{url}/v1/predict", data=SAMPLE.read_bytes(),
                                         headers={"Content-Type": "image/jpeg"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=60) as response:
            assert len(json.load(response)["faces"]) == 1
        bad = urllib.request.Request(f"{url}/v1/predict", data=b"not an image at all, just words",
                                     headers={"Content-Type": "image/jpeg"})  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad, timeout=60)
        assert refused.value.code == 415
        assert "Traceback" not in refused.value.read().decode()
    logged = log.read_text()
    assert "POST /v1/predict 200" in logged and "POST /v1/predict 415" in logged
    assert "astronaut" not in logged and "just words" not in logged  # nothing a client sent is logged


def test_a_file_name_of_any_bytes_comes_back_as_text(client):
    head = b'--x\r\nContent-Disposition: form-data; name="file"; filename="caf\xe9 =1+2.jpg"\r\n\r\n'
    body = head + SAMPLE.read_bytes() + b"\r\n--x--\r\n"
    response = client.post("/v1/predict", content=body, headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert response.status_code == 200 and response.json()["file"] == "caf\ufffd =1+2.jpg"


def test_file_over_the_byte_limit_streamed_is_refused(client):
    def body():
        chunk = b"\0" * 2**20
        for _ in range(MAX_FILE_BYTES // 2**20 + 2):
            yield chunk

    response = client.post("/v1/predict", content=body(), headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 413


def _multipart(fields: list[tuple[str, bytes]], boundary: str = "b0undary") -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body of ``(name, value)`` fields and its header."""
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
             for name, value in fields]  # fmt: skip
    header = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), header


def test_health_answers_while_many_part_bodies_and_8000x8000_claiming_jpegs_arrive(client):
    many, many_header = _multipart([("f", b"x")] * 100_000)  # 5 MB of parts: 20 s of parsing on the event loop
    big, big_header = _multipart([("file", b"not an image, line by line\r\n" * 1_500_000)])  # 40 MB in one part
    assert len(many) > 5_000_000
    claiming = (jpeg_claiming(8000, 8000), {"Content-Type": "image/jpeg"})  # decoded whole: 1.1 GB and 10 s each
    answers: list = []

    def post(body: bytes, header: dict[str, str]) -> None:
        answers.append(client.post("/v1/predict", content=body, headers=header))

    uploads = [(big, big_header), (many, many_header), (many, many_header), *[claiming] * 8]
    posts = [threading.Thread(target=post, args=upload) for upload in uploads]
    for thread in posts:
        thread.start()
    waits = []
    while any(thread.is_alive() for thread in posts):
        started = time.perf_counter()
        assert client.get("/health").status_code == 200
        waits.append(time.perf_counter() - started)
        time.sleep(0.05)
    assert waits and max(waits) < 1.0, waits
    statuses = sorted((answer.status_code, answer.json().get("detail", "")) for answer in answers)
    assert [status for status, _ in statuses] == [200] * 8 + [413, 413, 415]  # the big one is parsed, then text
    assert f"more than {MAX_PARTS} parts" in statuses[8][1] and "text" in statuses[10][1]
    few, few_header = _multipart([("note", b"hi")] * (MAX_PARTS - 1) + [("file", SAMPLE.read_bytes())])
    assert client.post("/v1/predict", content=few, headers=few_header).status_code == 200


def test_an_explanation_over_its_time_budget_is_stopped_with_503(client, monkeypatch):
    monkeypatch.setattr(api_app, "EXPLAIN_SECONDS", 0.0)
    response = client.post("/v1/explain", content=SAMPLE.read_bytes(), headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 503 and "took longer than" in response.json()["detail"]


@pytest.mark.slow
def test_a_pixel_explanation_stops_at_a_check_between_batches_and_the_next_one_still_adds_up(client):
    predictor, crop, checks = client.app.state.runtime.predictor, astronaut_face_crop(), []

    def stop_at_the_third(done: float) -> None:
        checks.append(done)
        if len(checks) == 3:
            raise HTTPException(503, "stop")

    with pytest.raises(HTTPException):
        _explain(predictor, crop, stop_at_the_third)
    assert len(checks) == 3  # SHAP passed the exception on at once
    head = _explain(predictor, crop, lambda done: None)["age"]
    assert head.base_value + float(head.values.sum()) == pytest.approx(head.output_value, abs=1e-3)


def test_a_tiny_jpeg_claiming_8000x8000_costs_little_to_answer(client):
    started = time.process_time()  # this process's CPU, the app's worker threads included
    response = client.post("/v1/predict", content=jpeg_claiming(8000, 8000), headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 200 and response.json()["faces"] == []
    assert time.process_time() - started < 3  # decoded whole: 10 s of CPU and 1.1 GB


def test_the_docs_pages_load_nothing_from_another_host(client):
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert len(assets) >= 2 and "://" not in html, html
        for url in assets:
            assert url.startswith("/") and client.get(url).status_code == 200, url
    assert client.get("/openapi.json").status_code == 200


@pytest.fixture(scope="module")
def server(shipped_tflite_path, tmp_path_factory) -> Iterator[tuple[str, int, Path, int]]:
    """A real server (disconnects need real sockets): host, port, its log file and process id."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    with serving(log) as (host, port, pid):
        yield host, port, log, pid


def _wait_for_log(log: Path, text: str, seconds: float) -> float:
    """Seconds until ``text`` appears in the server's log; fails after ``seconds``."""
    started = time.monotonic()
    wait_until(lambda: text in log.read_text(), seconds, lambda: f"{text!r} in the log:\n{log.read_text()[-3000:]}")
    return time.monotonic() - started


def _send(host: str, port: int, path: str, body: bytes, length: int | None = None) -> socket.socket:
    """A connection that has sent a POST of ``body`` (declaring ``length`` bytes) and nothing else."""
    connection = socket.create_connection((host, port))
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/jpeg\r\nContent-Length: {length or len(body)}"
    connection.sendall(head.encode() + b"\r\n\r\n" + body)
    return connection


@pytest.mark.slow
def test_a_client_gone_mid_upload_logs_one_line_and_no_500(server):
    host, port, log, _ = server
    _send(host, port, "/v1/predict", b"\xff\xd8" + b"\0" * 1000, length=100_000).close()
    _wait_for_log(log, "POST /v1/predict 499", 10)
    logged = log.read_text()
    assert "Traceback" not in logged and "ClientDisconnect" not in logged and " 500 " not in logged


@pytest.mark.slow
def test_an_abandoned_explanation_stops_within_2_s(server):
    host, port, log, pid = server
    busy = cpu_seconds(pid)
    connection = _send(host, port, "/v1/explain", SAMPLE.read_bytes())
    # under way: the server has spent a second of CPU on it (the whole explanation takes several)
    wait_until(lambda: cpu_seconds(pid) > busy + 1.0, 30, "the explanation to start")
    connection.close()
    assert _wait_for_log(log, "POST /v1/explain 499", 10) < 2
    assert "POST /v1/explain 200" not in log.read_text()
