"""The HTTP server: TensorFlow Serving's REST API over `http.server`.

One thread per connection (`ThreadingHTTPServer`), HTTP/1.1 keep-alive,
every answer JSON with a Content-Length. A request that is wrong in any
way gets a 4xx `{"error": ...}`; an unexpected failure a 500 with the same
shape, and the process keeps serving. Connections that send too slowly or
idle too long are closed after `ServingLimits.request_timeout_s`.
"""

import http.server
from http import HTTPStatus
import json
import logging
import signal
import socket
import threading
import time

from keras_transformer.serving import rest_api
from keras_transformer.serving.errors import RequestError

logger = logging.getLogger(__name__)

# Bytes of an oversized body read (and dropped) before the 413 answer, so
# that a client still writing its body reads the answer instead of a reset.
_DRAIN_LIMIT = 16 << 20


class ModelServer(http.server.ThreadingHTTPServer):
    """Serves one `ServedModel` on `host:port` (port 0: any free port).

    Args:
        served_model: The `ServedModel`.
        host: Address to bind; the loopback interface unless told otherwise.
        port: TCP port; 0 picks a free one (see `port`).
        access_log: Log every request at INFO level.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, served_model, host="127.0.0.1", port=8501, access_log=False):
        self.served_model = served_model
        self.access_log = access_log
        self._in_flight = 0
        self._in_flight_lock = threading.Condition()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.address_family = family
        super().__init__((host, port), _Handler)

    @property
    def port(self):
        return self.server_address[1]

    @property
    def url(self):
        host = self.server_address[0]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def drain(self, timeout_s):
        """Waits until no request is being answered (at most `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        with self._in_flight_lock:
            while self._in_flight and time.monotonic() < deadline:
                self._in_flight_lock.wait(deadline - time.monotonic())
            return self._in_flight == 0

    def _track(self, delta):
        with self._in_flight_lock:
            self._in_flight += delta
            self._in_flight_lock.notify_all()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "keras-transformer-serving"

    def setup(self):
        # The socket timeout bounds reading a request and keep-alive idling.
        self.timeout = self.server.served_model.limits.request_timeout_s
        super().setup()

    def do_GET(self):
        self._answer("GET")

    def do_POST(self):
        self._answer("POST")

    def do_PUT(self):
        self._answer("PUT")

    def do_DELETE(self):
        self._answer("DELETE")

    def do_PATCH(self):
        self._answer("PATCH")

    def do_HEAD(self):
        self._answer("HEAD")

    def send_error(self, code, message=None, explain=None):
        # http.server's own errors (a malformed or over-long request line,
        # too many headers, ...) answered in the API's JSON form, not HTML.
        self.close_connection = True
        # An unparsable request line leaves HTTP/0.9, which has no status
        # line; answer as HTTP/1.1 so that clients see the status.
        self.request_version = self.protocol_version
        self._send_json(code, rest_api.error_body(message or HTTPStatus(code).phrase))

    def log_message(self, format, *args):
        if self.server.access_log:
            logger.info("%s %s", self.address_string(), format % args)

    # === Answering ===

    def _answer(self, method):
        # Counted until the answer is written, so that a graceful stop
        # waits for it.
        self.server._track(+1)
        try:
            self._body_read = False
            try:
                status, body = self._dispatch(method)
            except RequestError as error:
                status, body = error.status, rest_api.error_body(error.message)
            except TimeoutError:
                status, body = 408, rest_api.error_body("Timed out reading the request.")
                self.close_connection = True
            except Exception as error:  # The process must keep serving.
                status, body = self._internal_error(error)
            if not self._body_read and self.headers.get("Content-Length", "0").strip() != "0":
                # An unread body would be parsed as the next request.
                self.close_connection = True
            self._send_json(status, body)
        finally:
            self.server._track(-1)

    def _dispatch(self, method):
        route = rest_api.parse_route(method, self.path)
        model = self.server.served_model
        if route.model_name != model.name:
            raise RequestError(
                f"Servable not found for request: Latest({route.model_name})",
                status=404,
            )
        if route.label is not None or (
            route.version is not None and route.version != str(model.version)
        ):
            spec = route.label or route.version
            raise RequestError(
                f"Servable not found for request: Specific({route.model_name}, "
                f"{spec}); this server has version {model.version}.",
                status=404,
            )
        if route.kind == "status":
            return 200, model.status()
        if route.kind == "metadata":
            return 200, model.metadata()
        request = rest_api.parse_predict_body(self._read_body())
        outputs = model.predict(request)
        return 200, rest_api.format_predict_response(outputs, request.row_format)

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise RequestError(
                "Chunked request bodies are not supported: send a Content-Length.",
                status=411,
            )
        length = self.headers.get("Content-Length")
        if length is None:
            raise RequestError("A Content-Length header is required.", status=411)
        try:
            length = int(length)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise RequestError(f"Invalid Content-Length {length!r}.") from None
        limit = self.server.served_model.limits.max_request_bytes
        if length > limit:
            self.close_connection = True
            if length <= _DRAIN_LIMIT:
                self._discard(length)
            raise RequestError(
                f"The request body has {length} bytes, more than this server's "
                f"max_request_bytes={limit}.",
                status=413,
            )
        body = self.rfile.read(length)
        self._body_read = True
        if len(body) < length:
            self.close_connection = True
            raise RequestError(
                f"The request body ended after {len(body)} of {length} bytes."
            )
        return body

    def _discard(self, length):
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 16))
            if not chunk:
                return
            length -= len(chunk)

    def _internal_error(self, error):
        # TensorFlow reports bad inputs that slipped past the checks as
        # InvalidArgumentError: still the client's error.
        if type(error).__name__ == "InvalidArgumentError":
            message = getattr(error, "message", str(error)).splitlines()[0]
            return 400, rest_api.error_body(f"Invalid input: {message}")
        logger.exception("Error answering %s %s", self.command, self.path)
        return 500, rest_api.error_body(
            f"Internal error: {type(error).__name__}: {str(error)[:500]}"
        )

    def _send_json(self, status, body):
        payload = (json.dumps(body, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if getattr(self, "command", None) != "HEAD":
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def serve(served_model, host="127.0.0.1", port=8501, access_log=False,
          grace_period_s=10.0, ready=None):
    """Serves until SIGTERM or SIGINT, then stops gracefully.

    On the signal the server stops accepting connections, lets requests in
    progress finish (up to `grace_period_s`), stops the batchers and
    returns.

    Args:
        served_model: The `ServedModel`.
        host: Address to bind (default: loopback only).
        port: TCP port (0: any free port).
        access_log: Log every request.
        grace_period_s: Longest wait for requests in progress.
        ready: Called with the `ModelServer` once it listens.
    """
    server = ModelServer(served_model, host, port, access_log=access_log)
    stop = threading.Event()

    def on_signal(signum, frame):
        if not stop.is_set():
            stop.set()
            # shutdown() waits for serve_forever() in this (main) thread.
            threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {
        signum: signal.signal(signum, on_signal)
        for signum in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        if ready is not None:
            ready(server)
        server.serve_forever(poll_interval=0.2)
        if not server.drain(grace_period_s):
            logger.warning("Stopping with requests still in progress.")
    finally:
        server.server_close()
        served_model.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)

