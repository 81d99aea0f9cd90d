"""`keras-transformer serve` as a child process, for tests and benchmarks."""

import os
import pathlib
import queue
import re
import signal
import subprocess
import sys
import threading
import time

_READY = re.compile(r"^Serving model .* at (http://\S+?)/v1/models/")


class ServerProcess:
    """Starts `python -m keras_transformer.cli serve` on a free loopback port.

    The server is started with `--port 0` and reports the port it bound in
    its ready line, so there is no race for a port. stderr goes to
    `log_path`.

    Args:
        model_dir: The model base path (`EXPORT_DIR/NAME`).
        runtime: "savedmodel" or "onnx".
        log_path: File for the server's stderr.
        extra_args: More `serve` flags, e.g. `["--max-batch-size", "8"]`.
        cwd: Working directory of the child.
    """

    def __init__(self, model_dir, runtime, log_path, extra_args=(), cwd=None):
        command = [
            sys.executable, "-m", "keras_transformer.cli", "serve",
            "--model-dir", str(model_dir), "--runtime", runtime,
            "--host", "127.0.0.1", "--port", "0", *extra_args,
        ]
        self.log_path = pathlib.Path(log_path)
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            command, cwd=cwd, stdout=subprocess.PIPE, stderr=self._log, text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        self.stdout_lines = []
        self._lines = queue.Queue()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        self.url = None
        self._terminated = False

    @property
    def port(self):
        return int(self.url.rsplit(":", 1)[1])

    def wait_ready(self, timeout_s=180.0):
        """Blocks until the server listens; returns `self`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                break
            match = _READY.match(line)
            if match:
                self.url = match.group(1)
                return self
        self.stop()
        raise RuntimeError(
            f"The server did not start within {timeout_s:.0f} s. Its log "
            f"({self.log_path}) ends with:\n{self.log_path.read_text()[-3000:]}"
        )

    def terminate(self):
        """Sends SIGTERM, a graceful stop, once.

        Only once: the server restores the default handlers as it finishes
        stopping, so a second SIGTERM then would kill it (exit status -15)
        instead of letting it exit cleanly.
        """
        if not self._terminated and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self._terminated = True

    def stop(self, timeout_s=30.0):
        """SIGTERM (a graceful stop), then SIGKILL after `timeout_s`;
        returns the exit status."""
        if self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def _read_stdout(self):
        for line in self.process.stdout:
            self.stdout_lines.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def __enter__(self):
        return self.wait_ready()

    def __exit__(self, *exc_info):
        self.stop()
