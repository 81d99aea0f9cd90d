"""The server: TF Serving's REST API, over real HTTP, with both runtimes.

The end-to-end tests start `keras-transformer serve` as a real process on a
free loopback port (`--port 0`; the server prints the port it got) and talk
to it over HTTP, good requests and bad ones, from many threads at once.
"""

import base64
import http.client
import json
import pathlib
import shutil
import socket
import subprocess
import threading
import time

import numpy as np
import pytest

from export import load_test
from keras_transformer.data import encode_for_translation
from keras_transformer.export import DecodingConfig
from keras_transformer.generation import make_search_fn
from keras_transformer.serving import MicroBatcher
from keras_transformer.serving import RequestError
from keras_transformer.serving import ServingLimits
from keras_transformer.serving import rest_api
from keras_transformer.serving.server_process import ServerProcess

ROOT = pathlib.Path(__file__).resolve().parents[1]
NAME = "demo"
MAX_BATCH = 8
MAX_REQUEST_BYTES = 20000
MAX_TEXT_CHARS = 300
RUNTIMES = ("savedmodel", "onnx")
TEXTS = ["In the beginning God created the heaven and the earth.", "Jesus wept.",
         "Love your enemies, bless them that curse you."]


# === Fixtures ===


@pytest.fixture(scope="module")
def demo(translation_demo):
    """The shared demo export (`translation_demo` in tests/conftest.py) and
    Keras answers."""
    manifest, path, model, tokenizer = translation_demo
    decoding = DecodingConfig.from_json(manifest["decoding"])
    searches = {
        width: make_search_fn(model, decoding.max_output_length, decoding.start_id,
                              decoding.end_id, beam_width=width, alpha=decoding.alpha)
        for width in (1, decoding.beam_width)
    }

    def translate(texts, greedy=False):
        source = encode_for_translation(texts, tokenizer, model.max_sequence_length)
        width = 1 if greedy else decoding.beam_width
        return tokenizer.decode(np.asarray(searches[width](source)))

    def generate(ids, greedy=False):
        width = 1 if greedy else decoding.beam_width
        return np.asarray(searches[width](np.asarray(ids, np.int32))).tolist()

    return {
        "path": path,
        "model": model,
        "tokenizer": tokenizer,
        "translate": translate,
        "generate": generate,
    }


@pytest.fixture(scope="module")
def servers(demo, tmp_path_factory):
    """One server per runtime, started together."""
    logs = tmp_path_factory.mktemp("server_logs")
    limits = ["--max-batch-size", str(MAX_BATCH), "--max-request-bytes", str(MAX_REQUEST_BYTES),
              "--max-text-chars", str(MAX_TEXT_CHARS), "--request-timeout", "2"]
    started = {
        runtime: ServerProcess(demo["path"].parent, runtime, logs / f"{runtime}.log",
                               extra_args=limits, cwd=ROOT)
        for runtime in RUNTIMES
    }
    try:
        yield {runtime: server.wait_ready() for runtime, server in started.items()}
    finally:
        for server in started.values():
            server.stop()


def request(port, method, path, body=None, headers=None):
    """One HTTP request on a fresh connection; returns (status, JSON)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def predict(port, body, model=NAME):
    return request(port, "POST", f"/v1/models/{model}:predict", body)


# === Unit: the REST API ===


def test_routes():
    for method, path, kind, version in (
        ("GET", "/v1/models/m", "status", None),
        ("GET", "/v1/models/m/versions/3", "status", "3"),
        ("GET", "/v1/models/m/metadata", "metadata", None),
        ("GET", "/v1/models/m/versions/3/metadata", "metadata", "3"),
        ("POST", "/v1/models/m:predict", "predict", None),
        ("POST", "/v1/models/m/versions/2:predict?x=1", "predict", "2"),
    ):
        route = rest_api.parse_route(method, path)
        assert (route.kind, route.model_name, route.version) == (kind, "m", version), path


def test_bad_routes():
    for method, path, status in (
        ("GET", "/", 404), ("GET", "/v1/models", 404), ("POST", "/v1/models/m:explode", 404),
        ("GET", "/v1/models/m:predict", 405), ("POST", "/v1/models/m/metadata", 405),
        ("POST", "/v1/models/m:classify", 400),
    ):
        with pytest.raises(RequestError) as caught:
            rest_api.parse_route(method, path)
        assert caught.value.status == status, path


def test_row_and_columnar_requests_give_the_same_arrays():
    spec = {"inputs": {"encoder_token_ids": rest_api.signatures.TensorInfo("int32", (None, None)),
                       "decoder_token_ids": rest_api.signatures.TensorInfo("int32", (None, None))}}
    rows = rest_api.parse_predict_body(json.dumps({"instances": [
        {"encoder_token_ids": [5, 6], "decoder_token_ids": [2]},
        {"encoder_token_ids": [7, 0], "decoder_token_ids": [2]}]}).encode())
    columns = rest_api.parse_predict_body(json.dumps({"inputs": {
        "encoder_token_ids": [[5, 6], [7, 0]], "decoder_token_ids": [[2], [2]]}}).encode())
    a, b = rest_api.to_arrays(rows, spec, 8), rest_api.to_arrays(columns, spec, 8)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
        assert a[name].dtype == np.int32
    assert rows.row_format and not columns.row_format


def test_response_formats_follow_tf_serving():
    one = {"y": np.array([b"a", b"\xff"], dtype=object)}
    assert rest_api.format_predict_response(one, True) == {
        "predictions": ["a", {"b64": base64.b64encode(b"\xff").decode()}]}
    two = {"a": np.array([1, 2]), "b": np.array([[0.5], [1.5]], np.float32)}
    assert rest_api.format_predict_response(two, True) == {
        "predictions": [{"a": 1, "b": [0.5]}, {"a": 2, "b": [1.5]}]}
    assert rest_api.format_predict_response(two, False) == {
        "outputs": {"a": [1, 2], "b": [[0.5], [1.5]]}}


def test_limits_are_checked():
    with pytest.raises(ValueError, match="max_batch_size"):
        ServingLimits(max_batch_size=0)
    with pytest.raises(ValueError, match="request_timeout_s"):
        ServingLimits(request_timeout_s=-1.0)


# === Unit: micro-batching ===


def test_micro_batcher_merges_concurrent_requests_and_pads_ids():
    batches = []

    def run(arrays):
        batches.append(arrays["ids"].shape)
        time.sleep(0.05)
        return {"sum": arrays["ids"].sum(axis=1)}

    batcher = MicroBatcher(run, max_batch_size=16)
    results = [None] * 8

    def client(i):
        ids = np.full((1, 1 + i % 3), i, np.int32)
        results[i] = batcher.submit({"ids": ids})["sum"].tolist()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    batcher.close()
    assert results == [[i * (1 + i % 3)] for i in range(8)]
    assert len(batches) < 8, "concurrent requests should share batches"
    assert sum(shape[0] for shape in batches) == 8


def test_micro_batcher_isolates_a_failing_request():
    def run(arrays):
        if np.any(arrays["ids"] < 0):
            raise ValueError("negative id")
        time.sleep(0.02)
        return {"ids": arrays["ids"]}

    batcher = MicroBatcher(run, max_batch_size=8)
    outcomes = {}

    def client(i):
        try:
            outcomes[i] = batcher.submit({"ids": np.array([[-1 if i == 3 else i]])})["ids"].tolist()
        except ValueError as error:
            outcomes[i] = str(error)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    batcher.close()
    assert outcomes == {i: ("negative id" if i == 3 else [[i]]) for i in range(6)}


# === End to end: real server processes ===


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_status_and_metadata(servers, runtime):
    port = servers[runtime].port
    status, body = request(port, "GET", f"/v1/models/{NAME}")
    assert status == 200
    assert body == {"model_version_status": [{"version": "1", "state": "AVAILABLE",
                                              "status": {"error_code": "OK", "error_message": ""}}]}
    status, body = request(port, "GET", f"/v1/models/{NAME}/versions/1/metadata")
    assert status == 200
    assert body["model_spec"] == {"name": NAME, "signature_name": "", "version": "1"}
    defs = body["metadata"]["signature_def"]["signature_def"]
    assert set(defs) == {"serving_default", "translate", "translate_greedy", "generate",
                         "generate_greedy", "logits"}
    text = defs["serving_default"]["inputs"]["text"]
    assert text["dtype"] == "DT_STRING"
    assert text["tensor_shape"]["dim"] == [{"size": "-1", "name": ""}]
    assert defs["logits"]["outputs"]["logits"]["dtype"] == "DT_FLOAT"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_translate_in_every_request_format(servers, demo, runtime):
    port = servers[runtime].port
    expected = demo["translate"](TEXTS)
    assert predict(port, {"instances": TEXTS}) == (200, {"predictions": expected})
    assert predict(port, {"signature_name": "translate",
                          "instances": [{"text": t} for t in TEXTS]}) == (200, {"predictions": expected})
    assert predict(port, {"inputs": {"text": TEXTS}}) == (200, {"outputs": expected})
    assert predict(port, {"inputs": TEXTS[:1]}) == (200, {"outputs": expected[:1]})
    encoded = [{"b64": base64.b64encode(t.encode()).decode()} for t in TEXTS]
    assert predict(port, {"instances": encoded}) == (200, {"predictions": expected})
    greedy = demo["translate"](TEXTS, greedy=True)
    assert predict(port, {"signature_name": "translate_greedy", "instances": TEXTS}) == (
        200, {"predictions": greedy})


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_ids_and_logits_signatures(servers, demo, runtime):
    port = servers[runtime].port
    source = [[40, 41, 42, 3, 0], [7, 8, 9, 10, 3]]
    for name, greedy in (("generate", False), ("generate_greedy", True)):
        status, body = predict(port, {"signature_name": name, "instances": source})
        assert status == 200
        assert body["predictions"] == demo["generate"](source, greedy=greedy)
    decoder = [[2, 50, 51], [2, 60, 0]]
    status, body = predict(port, {"signature_name": "logits", "instances": [
        {"encoder_token_ids": s, "decoder_token_ids": d} for s, d in zip(source, decoder)]})
    assert status == 200
    expected = demo["model"]({"encoder_token_ids": np.array(source),
                              "decoder_token_ids": np.array(decoder)})
    np.testing.assert_allclose(np.array(body["predictions"]), expected, atol=1e-4)


def _bad_requests():
    long_chars = "a" * (MAX_TEXT_CHARS + 1)
    many_tokens = "\u65e5" * 100  # 3 byte pieces each: far past 64 ids.
    ids = {"signature_name": "generate_greedy"}
    return [
        ("malformed JSON", b'{"instances": ["a"', 400, "Malformed JSON"),
        ("not UTF-8", b'\xff\xfe', 400, "Malformed JSON"),
        ("JSON array body", [1, 2], 400, "JSON object"),
        ("both formats", {"instances": ["a"], "inputs": ["a"]}, 400, "exactly one"),
        ("neither format", {"signature_name": "translate"}, 400, "exactly one"),
        ("instances not a list", {"instances": "a"}, 400, "must be a JSON list"),
        ("number for text", {"instances": [5]}, 400, "must be a string"),
        ("signature name not a string", {"signature_name": 5, "instances": ["a"]}, 400, "must be a string"),
        ("empty batch", {"instances": []}, 400, "empty batch"),
        ("empty columnar batch", {"inputs": {"text": []}}, 400, "empty batch"),
        ("oversized batch", {"instances": ["a"] * (MAX_BATCH + 1)}, 400, "max_batch_size=8"),
        ("too many characters", {"instances": [long_chars]}, 400, "max_text_chars=300"),
        ("too many subword ids", {"instances": [many_tokens]}, 400, "subword ids"),
        ("blank text", {"instances": ["  "]}, 400, "empty or blank"),
        ("bad base64", {"instances": [{"b64": "@@"}]}, 400, "base64"),
        ("unknown signature", {"signature_name": "nope", "instances": ["a"]}, 400, "not found in signature def"),
        ("id out of range", {**ids, "instances": [[5, 100000]]}, 400, "not a token id"),
        ("negative id", {**ids, "instances": [[5, -1]]}, 400, "not a token id"),
        ("float id", {**ids, "instances": [[5, 1.5]]}, 400, "integer token ids"),
        ("ragged ids", {**ids, "instances": [[5, 3], [5]]}, 400, "rectangular"),
        ("too many ids", {**ids, "instances": [[5] * 65]}, 400, "max_sequence_length=64"),
        ("missing input", {"signature_name": "logits", "instances": [{"encoder_token_ids": [5]}]},
         400, "Missing: \\['decoder_token_ids'\\]"),
        ("unknown input", {"signature_name": "translate", "instances": [{"txt": "a"}]}, 400, "Unknown"),
    ]


BAD_REQUESTS = _bad_requests()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_bad_requests_get_4xx_json_errors(servers, runtime):
    port = servers[runtime].port
    for label, body, status, message in BAD_REQUESTS:
        got_status, got = predict(port, body)
        assert got_status == status, (label, got)
        assert set(got) == {"error"} and isinstance(got["error"], str), label
        assert __import__("re").search(message, got["error"]), (label, got["error"])
    # Wrong model, version, path, method.
    assert predict(port, {"instances": ["a"]}, model="other")[0] == 404
    assert request(port, "POST", f"/v1/models/{NAME}/versions/7:predict", {"instances": ["a"]})[0] == 404
    assert request(port, "GET", "/v1/nothing")[0] == 404
    assert request(port, "GET", f"/v1/models/{NAME}:predict")[0] == 405
    assert request(port, "POST", f"/v1/models/{NAME}:classify", {"examples": []})[0] == 400
    # The process is still up and answering.
    assert servers[runtime].process.poll() is None
    assert predict(port, {"instances": TEXTS[:1]})[0] == 200


def test_oversized_and_unsized_bodies(servers):
    port = servers["savedmodel"].port
    big = json.dumps({"instances": ["a" * 100] * 300}).encode()
    assert len(big) > MAX_REQUEST_BYTES
    status, body = predict(port, big)
    assert status == 413 and "max_request_bytes=20000" in body["error"]
    # No Content-Length (a raw request, since http.client always adds it).
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"POST /v1/models/{NAME}:predict HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        sock.shutdown(socket.SHUT_WR)
        answer = _read_until_closed(sock).decode()
    assert answer.startswith("HTTP/1.1 411") and '"error"' in answer
    # http.server's own refusals are JSON too.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /" + b"x" * 70000 + b" HTTP/1.1\r\n\r\n")
        answer = _read_until_closed(sock).decode()
    assert answer.startswith("HTTP/1.1 414") and answer.endswith('"}\n')
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        answer = _read_until_closed(sock).decode()
    assert answer.startswith("HTTP/1.1 400") and '"error"' in answer


def _read_until_closed(sock):
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_stalled_client_is_disconnected(servers):
    port = servers["savedmodel"].port
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        # Headers promise a body that never comes; --request-timeout is 2 s.
        sock.sendall(f"POST /v1/models/{NAME}:predict HTTP/1.1\r\nHost: x\r\n"
                     "Content-Length: 100\r\n\r\n{".encode())
        answer = _read_until_closed(sock)
    assert time.monotonic() - started < 15
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
    assert predict(port, {"instances": TEXTS[:1]})[0] == 200


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_concurrent_clients_get_their_own_answers(servers, demo, runtime):
    port = servers[runtime].port
    source = [[40, 41, 42, 3], [7, 8, 9, 3]]
    jobs = [
        ({"instances": TEXTS[:1]}, {"predictions": demo["translate"](TEXTS[:1])}),
        ({"instances": TEXTS[1:]}, {"predictions": demo["translate"](TEXTS[1:])}),
        ({"signature_name": "generate_greedy", "instances": source},
         {"predictions": demo["generate"](source, greedy=True)}),
        ({"instances": []}, None),  # A bad request among the good ones.
    ]
    failures = []

    def client(worker):
        for round_ in range(3):
            body, expected = jobs[(worker + round_) % len(jobs)]
            status, got = predict(port, body)
            if expected is None:
                ok = status == 400
            else:
                ok = status == 200 and got == expected
            if not ok:
                failures.append((worker, round_, status, got))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert servers[runtime].process.poll() is None


def test_load_script_reports_latency_and_throughput(servers, tmp_path):
    port = servers["onnx"].port
    output = tmp_path / "load.json"
    report = load_test.main([
        "--url", f"http://127.0.0.1:{port}", "--model", NAME, "--requests", "24",
        "--concurrency", "4", "--max-duration", "60", "--output", str(output),
    ])
    assert report == json.loads(output.read_text())
    assert report["requests_ok"] == report["requests_completed"] == 24
    assert report["statuses"] == {"200": 24}
    assert 0 < report["latency_p50_ms"] <= report["latency_p99_ms"] <= report["latency_max_ms"]
    assert report["requests_per_s"] > 0


def test_load_script_stops_at_its_max_duration(servers):
    port = servers["savedmodel"].port
    report = load_test.run_load(f"http://127.0.0.1:{port}", NAME, requests=10_000,
                                concurrency=2, max_duration_s=1.0)
    assert report["stopped_by_max_duration"]
    assert report["requests_completed"] < 10_000
    assert report["duration_s"] < 10


def test_load_script_refuses_anything_but_loopback():
    for url in ("http://10.1.2.3:8501", "http://example.com:8501", "http://192.168.0.1",
                "https://127.0.0.1:8501", "127.0.0.1:8501"):
        with pytest.raises(ValueError, match="argument `url`"):
            load_test.run_load(url, NAME, requests=1)
        with pytest.raises(SystemExit) as caught:
            load_test.main(["--url", url, "--model", NAME, "--requests", "1"])
        assert caught.value.code == 2


def test_load_script_accepts_loopback_forms():
    assert load_test.loopback_address("http://localhost:1") == ("localhost", 1)
    assert load_test.loopback_address("http://127.0.0.2:9") == ("127.0.0.2", 9)
    assert load_test.loopback_address("http://[::1]:9") == ("::1", 9)


def test_sigterm_stops_the_server_gracefully(servers):
    server = servers["onnx"]
    assert predict(server.port, {"instances": TEXTS[:1]})[0] == 200
    server.terminate()
    assert server.process.wait(timeout=30) == 0
    deadline = time.monotonic() + 10
    while "Server stopped.\n" not in server.stdout_lines and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "Server stopped.\n" in server.stdout_lines


# === A real TensorFlow Serving, where one is installed ===


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(shutil.which("tensorflow_model_server") is None,
                    reason="tensorflow_model_server is not on the PATH (TF Serving "
                           "cannot be installed on this machine)")
def test_real_tensorflow_serving_serves_the_export(demo, tmp_path):
    port = _free_port()
    log = open(tmp_path / "tf_serving.log", "w")
    process = subprocess.Popen(
        ["tensorflow_model_server", f"--rest_api_port={port}", "--port=0",
         f"--model_name={NAME}", f"--model_base_path={demo['path'].parent.resolve()}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                status, body = request(port, "GET", f"/v1/models/{NAME}")
                if status == 200 and body["model_version_status"][0]["state"] == "AVAILABLE":
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "tf_serving.log").read_text()
            time.sleep(1)
        status, body = request(port, "GET", f"/v1/models/{NAME}/metadata")
        assert status == 200
        assert "translate" in body["metadata"]["signature_def"]["signature_def"]
        assert predict(port, {"instances": TEXTS}) == (200, {"predictions": demo["translate"](TEXTS)})
        source = [[40, 41, 42, 3, 0], [7, 8, 9, 10, 3]]
        status, body = predict(port, {"signature_name": "generate_greedy", "inputs": source})
        assert (status, body) == (200, {"outputs": demo["generate"](source, greedy=True)})
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


# === The serving benchmark's quick mode ===


@pytest.mark.slow
def test_serving_benchmark_quick_run(tmp_path):
    from benchmarks import serving_latency

    output = tmp_path / "serving_latency.json"
    report = serving_latency.main(["--quick", "--output", str(output),
                                   "--work-dir", str(tmp_path / "work")])
    assert json.loads(output.read_text()) == json.loads(json.dumps(report))
    cases = {(r["task"], r["batch_size"]) for r in report["results"]}
    assert cases == {(task, batch) for task in ("forward", "translate_greedy", "translate_beam")
                     for batch in (1, 32)}
    for result in report["results"]:
        assert set(result["runtimes"]) == {"keras", "savedmodel", "onnx"}
        for timing in result["runtimes"].values():
            assert 0 < timing["p50_ms"] <= timing["p99_ms"]
        assert result["speedup_onnx_over_keras"] > 0
    for runtime in ("savedmodel", "onnx"):
        for load in report["server"][runtime].values():
            assert load["requests_ok"] == load["requests_completed"] > 0
    assert "random" in report["config"]["weights"]
