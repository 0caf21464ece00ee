"""Server and worker processes forked from one that imported scimgate once.

Starting ``uvicorn`` or ``scimgate worker`` as a new interpreter costs seconds of
CPU for the imports alone; the tests start dozens of servers, and the crash test
restarts them under load. Each pytest process has one launcher (started at its
first use, closed at exit) that imports scimgate once and forks a child per order:
the child is a real process of its own, with its own environment, port and log,
which runs what the command would run.
"""

import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

LAUNCHER = """
import json, os, signal, sys, traceback
import uvicorn
import scimgate.api.app
from scimgate.cli.coalesced_writes import CoalescingHttpProtocol
from scimgate.cli.main import app as cli

signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the children as they die
for line in sys.stdin:
    order = json.loads(line)
    pid = os.fork()
    if pid:
        print(pid, flush=True)
        continue
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        log = os.open(order["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.environ.clear()
        os.environ.update(order["environment"])
        if order["kind"] == "server":
            uvicorn.run(
                "scimgate.api.app:create_app",
                factory=True,
                host="127.0.0.1",
                port=int(order["argument"]),
                log_level="warning",
                http=CoalescingHttpProtocol,
            )
        else:
            cli(["worker", "--database-url", order["argument"]], prog_name="scimgate")
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # a child never goes back to reading orders
"""
"""Imports scimgate once, then forks a server or a worker for each order read on its stdin.

A forked server runs ``uvicorn --factory scimgate.api.app:create_app``, a
forked worker ``scimgate worker --database-url URL``, as their commands would;
only the import (seconds of CPU, more than the gap between kills on a loaded
machine) is done once, before anything is started.
"""


class Launcher:
    """The forking process of :data:`LAUNCHER`; it exits when its stdin is closed."""

    def __init__(self, log: Path) -> None:
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-c", LAUNCHER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=output,
            )
        self.lock = threading.Lock()

    def fork(self, kind: str, argument: str, log: Path, environment: dict[str, str]) -> int:
        order = {"kind": kind, "argument": argument, "log": str(log), "environment": environment}
        assert self.process.stdin is not None and self.process.stdout is not None
        with self.lock:
            self.process.stdin.write(json.dumps(order).encode() + b"\n")
            self.process.stdin.flush()
            answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"the launcher exited with {self.process.wait()}")
        return int(answer)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(60)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class Restartable:
    """A server or worker process, forked by the launcher, which can be SIGKILLed and restarted."""

    def __init__(
        self,
        launcher: Launcher,
        kind: str,
        argument: str,
        log: Path,
        environment: dict[str, str],
    ) -> None:
        self.launcher = launcher
        self.kind = kind
        self.argument = argument
        self.log = log
        self.environment = environment
        self.pid: int | None = None

    def start(self) -> None:
        self.pid = self.launcher.fork(
            self.kind, self.argument, self.log, {**os.environ, **self.environment}
        )

    def exited(self) -> bool:
        return self.pid is not None and not _alive(self.pid)

    def kill(self) -> None:
        assert self.pid is not None
        os.kill(self.pid, signal.SIGKILL)
        assert _wait_gone(self.pid, 30), f"the {self.kind} survived SIGKILL"

    def stop(self) -> None:
        if self.pid is None or not _alive(self.pid):
            return
        os.kill(self.pid, signal.SIGTERM)
        if not _wait_gone(self.pid, 20):
            os.kill(self.pid, signal.SIGKILL)
            _wait_gone(self.pid, 20)


_shared: Launcher | None = None
_shared_lock = threading.Lock()


def shared_launcher() -> Launcher:
    """This process's launcher, started at first use and closed when the process exits."""
    global _shared
    with _shared_lock:
        if _shared is None:
            log = Path(tempfile.gettempdir()) / f"scimgate-launcher-{os.getpid()}.log"
            _shared = Launcher(log)
            atexit.register(_shared.close)
        return _shared
