"""A bounded load test of a TF Serving REST endpoint, on the loopback only.

Sends a fixed number of predict requests from a fixed number of client
threads (each with its own keep-alive connection) and stops early at a
maximum duration, then reports latency percentiles and throughput:

    python -m export.load_test --url http://127.0.0.1:8501 --model en_es \\
        --requests 200 --concurrency 8 --max-duration 60

It refuses any host that is not the loopback interface (`localhost`,
127.0.0.0/8, ::1), so it cannot be pointed at someone else's server.
Standard library only.
"""

import argparse
import http.client
import ipaddress
import json
import math
import statistics
import sys
import threading
import time
import urllib.parse

DEFAULT_TEXTS = (
    "In the beginning God created the heaven and the earth.",
    "And God said, Let there be light: and there was light.",
    "Blessed are the meek: for they shall inherit the earth.",
    "Love your enemies.",
)


def loopback_address(url):
    """Returns `(host, port)` of an http URL on the loopback interface.

    Raises `ValueError` for any other host, without resolving names.
    """
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "http" or not parsed.hostname:
        raise ValueError(
            f"Received an invalid value for argument `url`, expected an "
            f"http://HOST:PORT URL. Received: url={url!r}"
        )
    host = parsed.hostname
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(
                "Received an invalid value for argument `url`, expected a "
                "loopback host (localhost, 127.0.0.0/8 or ::1): this load test "
                f"only runs against this machine. Received: url={url!r}"
            )
    return host, parsed.port or 80


def percentile(values, fraction):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = min(max(1, math.ceil(fraction * len(ordered))), len(ordered))
    return ordered[rank - 1]


def run_load(url, model, requests=100, concurrency=4, max_duration_s=60.0,
             signature_name="translate", instances=None, timeout_s=60.0):
    """Sends `requests` predict requests over `concurrency` connections.

    Args:
        url: `http://HOST:PORT` of the server; HOST must be loopback.
        model: The model name in the URL.
        requests: How many requests in all (a fixed count).
        concurrency: Client threads, each one request at a time.
        max_duration_s: Stop sending new requests after this long.
        signature_name: The signature to call.
        instances: The "instances" of every request; default: one
            sentence of `DEFAULT_TEXTS` per request, in turn.
        timeout_s: Socket timeout of each request.

    Returns:
        A report dict: counts, latency p50/p99/mean/max in ms, requests/s.
    """
    host, port = loopback_address(url)
    for name, value in (("requests", requests), ("concurrency", concurrency)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(
                f"Received an invalid value for argument `{name}`, expected a "
                f"positive integer. Received: {name}={value!r}"
            )
    path = f"/v1/models/{urllib.parse.quote(model)}:predict"
    lock = threading.Lock()
    next_request = [0]
    latencies, statuses, errors = [], {}, []
    started = time.perf_counter()
    deadline = started + max_duration_s

    def body_for(index):
        batch = instances or [DEFAULT_TEXTS[index % len(DEFAULT_TEXTS)]]
        return json.dumps({"signature_name": signature_name, "instances": batch})

    def client():
        connection = http.client.HTTPConnection(host, port, timeout=timeout_s)
        try:
            while True:
                with lock:
                    index = next_request[0]
                    if index >= requests or time.perf_counter() >= deadline:
                        return
                    next_request[0] += 1
                body = body_for(index).encode("utf-8")
                sent = time.perf_counter()
                try:
                    connection.request("POST", path, body,
                                       {"Content-Type": "application/json"})
                    response = connection.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException) as error:
                    connection.close()
                    connection = http.client.HTTPConnection(host, port, timeout=timeout_s)
                    status = f"{type(error).__name__}"
                latency = time.perf_counter() - sent
                with lock:
                    statuses[str(status)] = statuses.get(str(status), 0) + 1
                    if status == 200:
                        latencies.append(latency)
                    else:
                        errors.append(status)
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    completed = len(latencies) + len(errors)
    report = {
        "url": url,
        "model": model,
        "signature_name": signature_name,
        "concurrency": concurrency,
        "requests_planned": requests,
        "requests_completed": completed,
        "requests_ok": len(latencies),
        "requests_failed": len(errors),
        "statuses": statuses,
        "stopped_by_max_duration": completed < requests,
        "duration_s": elapsed,
        "requests_per_s": completed / elapsed if elapsed > 0 else 0.0,
    }
    if latencies:
        milliseconds = [1000.0 * latency for latency in latencies]
        report.update(
            latency_p50_ms=percentile(milliseconds, 0.50),
            latency_p99_ms=percentile(milliseconds, 0.99),
            latency_mean_ms=statistics.fmean(milliseconds),
            latency_max_ms=max(milliseconds),
        )
    return report


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--url", default="http://127.0.0.1:8501",
                        help="server root; loopback hosts only")
    parser.add_argument("--model", required=True, help="model name")
    parser.add_argument("--signature", default="translate")
    parser.add_argument("--requests", type=int, default=100, help="requests in all")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--max-duration", type=float, default=60.0,
                        help="seconds after which no new request is sent")
    parser.add_argument("--instances", default=None,
                        help="JSON list sent as every request's instances")
    parser.add_argument("--output", default=None, help="also write the report here")
    return parser.parse_args(argv)


def main(argv=None):
    """Runs the load test; prints the report as JSON; returns it."""
    args = parse_args(argv)
    instances = json.loads(args.instances) if args.instances else None
    try:
        report = run_load(
            args.url, args.model, requests=args.requests,
            concurrency=args.concurrency, max_duration_s=args.max_duration,
            signature_name=args.signature, instances=instances,
        )
    except ValueError as error:
        print(f"load_test: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
