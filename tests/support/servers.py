"""Real servers for tests, each on a free loopback port, started and stopped by the test.

::

    from tests.support.servers import RedisServer

    with RedisServer() as server:          # waits until it answers PING
        store = make_store(server.url)
        server.kill()                      # SIGKILL: a crash, for fault tests
        server.restart()                   # back on the same port, empty

The server keeps nothing on disk (``--save '' --appendonly no``); its working
directory and log file live in a temporary directory removed by :meth:`stop`.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType


def wait_until_serving(port: int, process: subprocess.Popen[bytes], log: Path, *,
                       path: str = "/", timeout: float = 30.0,
                       ready: Callable[[], bool] = lambda: True) -> None:
    """Return once ``GET path`` on 127.0.0.1:``port`` answers 200 and ``ready()`` holds.

    :raises RuntimeError: with the end of ``log`` when the process exits or
        ``timeout`` seconds pass first; stopping the process is the caller's.
    """
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                conn.request("GET", path)
                if conn.getresponse().status == 200 and ready():
                    return
            finally:
                conn.close()
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
    raise RuntimeError(f"the server on port {port} did not start:\n{tail}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at the moment of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` process that tests start, kill and restart at will.

    :param port: the port to listen on; a free one when ``None``. It stays the
        same across :meth:`restart`, so clients reconnect to the same URL.
    :param executable: the ``redis-server`` binary.
    :param startup_timeout: seconds to wait for the first PING answer.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        executable: str = "redis-server",
        startup_timeout: float = 10.0,
    ) -> None:
        self.port = port or free_port()
        self.executable = executable
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> RedisServer:
        """Start the server and return once it answers PING.

        :raises RuntimeError: the binary is missing, the process exits, or it
            does not answer within ``startup_timeout``; the message quotes its log.
        """
        if self.running:
            raise RuntimeError(f"redis-server is already running on port {self.port}")
        binary = shutil.which(self.executable)
        if binary is None:
            raise RuntimeError(f"{self.executable!r} not found on PATH; install redis-server")
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="pz-redis-")
        logfile = os.path.join(self._tmp.name, "redis.log")
        self._process = subprocess.Popen(
            [
                binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self._tmp.name,
                "--logfile", logfile, "--daemonize", "no",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + self.startup_timeout
        while not self._answers_ping():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self._halt(signal.SIGKILL)
                raise RuntimeError(
                    f"redis-server did not start on port {self.port}:\n{self._read_log(logfile)}"
                )
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Shut down cleanly (SIGTERM) and remove the temporary directory."""
        self._halt(signal.SIGTERM)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def kill(self) -> None:
        """Crash the server (SIGKILL), keeping the port for :meth:`restart`."""
        self._halt(signal.SIGKILL)

    def restart(self) -> None:
        """Kill the server if it runs, then start a fresh one on the same port."""
        self._halt(signal.SIGKILL)
        self.start()

    def _halt(self, sig: signal.Signals) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    @staticmethod
    def _read_log(path: str) -> str:
        try:
            with open(path, encoding="utf-8", errors="replace") as file:
                return file.read()[-4000:]
        except OSError:
            return "(no log written)"

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
