"""A Lambda Runtime API emulator of our own (loopback only).

One RuntimeEmulator is one execution environment: it listens on a free 127.0.0.1 port, starts the
function process itself (cold start) with Lambda's environment, hands it one invocation at a time
through GET /2018-06-01/runtime/invocation/next and records what the process answers on
/invocation/{id}/response, /invocation/{id}/error and /init/error.

Like Lambda:
- the deadline (Lambda-Runtime-Deadline-Ms, epoch ms) is the hand-out time + the function timeout;
  when it passes without an answer the process is killed (SIGKILL) and the next invoke starts a
  fresh process (cold);
- a process that exits during an invocation is a crash; the next invoke starts a fresh process;
- a response payload over 6 MB is refused with 413 (the invocation then fails with
  Function.ResponseSizeTooLarge), and so is an event over 6 MB (PayloadTooLarge, before any
  process sees it);
- everything the process writes on stdout and stderr is kept, line by line, per invocation.

To overlap two invocations on the same vault, run two emulators (two execution environments).
"""

from __future__ import annotations

import collections
import dataclasses
import fcntl
import http.server
import json
import os
import secrets
import shutil
import signal
import socketserver
import subprocess
import sys
import tempfile
import termios
import threading
import time
import uuid
from typing import Any, Mapping, Sequence

API_PREFIX = "/2018-06-01/runtime"
PAYLOAD_LIMIT = 6 * 1024 * 1024  # Lambda's synchronous payload limit, both ways
ACCOUNT_ID = "123456789012"


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when the thread that started it dies (Linux), so that
    a test killed by its runner leaves no function, moto or fake server behind."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class PayloadTooLarge(ValueError):
    """The event is over Lambda's 6 MB invocation payload limit (RequestTooLargeException)."""


@dataclasses.dataclass
class LogLine:
    stream: str  # "stdout" or "stderr"
    text: str
    at: float  # time.monotonic() when read


@dataclasses.dataclass
class InvocationResult:
    kind: str  # 'response' | 'error' | 'timeout' | 'crash' | 'init_error'
    payload: Any  # parsed JSON of the answer (None when absent or not JSON)
    raw: bytes  # the answer's bytes as posted
    error_type: str | None  # Lambda-Runtime-Function-Error-Type (error, init_error) or ours
    duration: float  # seconds from hand-out (or queueing when never handed out) to the end
    logs: list[str]  # every line the process wrote during this invocation
    log_records: list[LogLine]
    request_id: str
    cold: bool  # a process was started for this invocation
    pid: int | None  # the process that served it
    init_duration: float | None  # exec to first /next, on cold invocations
    started_at: float  # time.monotonic() of the hand-out (or of the queueing, never handed out)
    ended_at: float  # time.monotonic() of the end

    def json_logs(self) -> list[dict]:
        """The log lines that are JSON objects (the others are skipped)."""
        out = []
        for line in self.logs:
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                out.append(value)
        return out


class _Invocation:
    def __init__(self, body: bytes, timeout: float, gen: int, cold: bool):
        self.request_id = str(uuid.uuid4())
        self.body = body
        self.timeout = timeout
        self.gen = gen
        self.cold = cold
        self.queued_at = time.monotonic()
        self.handed_at: float | None = None
        self.deadline_ms: int | None = None
        self.handed = threading.Event()
        self.done = threading.Event()
        self.lines: list[LogLine] = []
        self.result: InvocationResult | None = None
        self.kind: str | None = None
        self.raw = b""
        self.error_type: str | None = None
        self.ended_at: float | None = None
        self.pid: int | None = None
        self.init_duration: float | None = None


class _Reader:
    def __init__(self, pipe, stream: str, gen: int):
        self.pipe = pipe
        self.stream = stream
        self.gen = gen
        self.busy = False
        self.eof = False
        self.thread: threading.Thread | None = None

    def idle(self) -> bool:
        if self.eof:
            return True
        if self.busy:
            return False
        try:
            pending = fcntl.ioctl(self.pipe.fileno(), termios.FIONREAD, b"\0\0\0\0")
        except (OSError, ValueError):
            return True
        return int.from_bytes(pending, sys.byteorder) == 0


class InvocationHandle:
    """An invocation under way (invoke_async): wait() returns its InvocationResult."""

    def __init__(self, emulator: "RuntimeEmulator", inv: _Invocation):
        self._emulator = emulator
        self._inv = inv
        self.request_id = inv.request_id

    def wait(self, timeout: float | None = None) -> InvocationResult:
        # The supervisor ends every invocation by its deadline; the margin covers the kill.
        limit = timeout if timeout is not None else self._inv.timeout + self._emulator.init_timeout + 30
        if not self._inv.done.wait(limit):
            raise TimeoutError(f"invocation {self.request_id} did not end within {limit} s")
        return self._emulator._finish(self._inv)

    def done(self) -> bool:
        return self._inv.done.is_set()

    def handed_out(self, timeout: float | None = None) -> bool:
        """True once the process took the invocation from /next."""
        return self._inv.handed.wait(timeout)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class RuntimeEmulator:
    def __init__(
        self,
        command: str | Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        function_timeout: float = 30.0,
        function_name: str = "obsync-test",
        memory_mb: int = 512,
        region: str = "us-east-1",
        init_timeout: float = 10.0,
        inherit_path: bool = True,
    ):
        self.command = [command] if isinstance(command, str) else list(command)
        self.extra_env = dict(env or {})
        self.function_timeout = float(function_timeout)
        self.function_name = function_name
        self.memory_mb = memory_mb
        self.region = region
        self.init_timeout = init_timeout
        self.inherit_path = inherit_path
        self.function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"

        self._cond = threading.Condition()
        self._queue: collections.deque[_Invocation] = collections.deque()
        self._invocations: dict[str, _Invocation] = {}
        self._current: _Invocation | None = None  # in flight (queued or handed out, not done)
        self._log_target: _Invocation | None = None  # where the process's lines go now
        self._gen = 0  # process generation: bumped at every start
        self._proc: subprocess.Popen | None = None
        self._proc_started_at = 0.0
        self._readers: list[_Reader] = []
        self._killed_gens: set[int] = set()
        self._closed = False

        self.all_logs: list[LogLine] = []  # every line of every process
        self.results: list[InvocationResult] = []  # every finished invocation, in order
        self.init_errors: list[tuple[str | None, Any]] = []  # (error type, parsed body)
        self.starts = 0  # processes started
        self.cold_start_s: float | None = None  # exec to first /next of the last start
        self.exit_codes: list[int] = []  # every process exit (negative: signal)
        self.pids: list[int] = []

        self._server: _Server | None = None
        self._server_thread: threading.Thread | None = None
        self.workdir: str | None = None
        self.port: int | None = None

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> "RuntimeEmulator":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        if self._server is not None:
            return
        self.workdir = tempfile.mkdtemp(prefix="obsync-lambda-env-")
        handler = _make_handler(self)
        self._server = _Server(("127.0.0.1", 0), handler)
        self.port = self._server.server_address[1]
        self._server_thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._server_thread.start()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._kill_process()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for reader in self._readers:
            reader.thread.join(timeout=2)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    @property
    def runtime_api(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def alive(self) -> bool:
        return self.pid is not None

    def environment(self) -> dict[str, str]:
        """The environment the function process gets: Lambda's, then the test's (no HOME)."""
        env: dict[str, str] = {}
        if self.inherit_path:
            env["PATH"] = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": self.runtime_api,
                "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function_name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/[$LATEST]")
                + secrets.token_hex(16),
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
                "LAMBDA_TASK_ROOT": self.workdir or "",
                "LAMBDA_RUNTIME_DIR": self.workdir or "",
                "_HANDLER": "bootstrap",
                "LANG": "en_US.UTF-8",
                "TZ": ":UTC",
            }
        )
        env.update(self.extra_env)
        env.pop("HOME", None)
        return env

    def _start_process(self) -> None:
        # Called with self._cond held.
        self._gen += 1
        gen = self._gen
        self._proc_started_at = time.monotonic()
        self.cold_start_s = None
        proc = subprocess.Popen(
            self.command,
            env=self.environment(),
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self._proc = proc
        self.starts += 1
        self.pids.append(proc.pid)
        for stream, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            reader = _Reader(pipe, stream, gen)
            reader.thread = threading.Thread(target=self._read_lines, args=(reader,), daemon=True)
            reader.thread.start()
            self._readers.append(reader)
        threading.Thread(target=self._watch_process, args=(proc, gen), daemon=True).start()

    def _read_lines(self, reader: "_Reader") -> None:
        # Unbuffered reads, so that "nothing pending" can be told: the pipe is empty (FIONREAD)
        # and the reader is not between a read and the filing of its lines.
        fd = reader.pipe.fileno()
        partial = b""
        while True:
            data = os.read(fd, 65536)
            reader.busy = True
            if not data:
                chunks = [partial] if partial else []
                partial = b""
            else:
                *chunks, partial = (partial + data).split(b"\n")
            now = time.monotonic()
            with self._cond:
                for raw in chunks:
                    line = LogLine(reader.stream, raw.decode("utf-8", errors="replace").rstrip("\r"), now)
                    self.all_logs.append(line)
                    target = self._log_target
                    if target is not None and target.gen == reader.gen:
                        target.lines.append(line)
            reader.busy = False
            if not data:
                break
        reader.pipe.close()
        reader.eof = True

    def _watch_process(self, proc: subprocess.Popen, gen: int) -> None:
        code = proc.wait()
        with self._cond:
            self.exit_codes.append(code)
            inv = self._current
            if inv is not None and inv.gen == gen and not inv.done.is_set():
                if gen not in self._killed_gens:  # else the supervisor ends it as a timeout
                    self._complete(
                        inv, "crash", f"process exited with {code}".encode(), "Runtime.ExitError"
                    )
            self._cond.notify_all()

    def _kill_process(self, for_timeout: bool = False) -> None:
        with self._cond:
            proc = self._proc
            if proc is None:
                return
            if for_timeout:
                self._killed_gens.add(self._gen)
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            except PermissionError:
                proc.kill()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def kill(self) -> None:
        """Kills the process (SIGKILL): an invocation in flight ends as a crash; the next
        invoke starts a fresh process."""
        self._kill_process()

    def wait_exit(self, timeout: float) -> int | None:
        """Waits for the current process to exit by itself; its exit code or None."""
        proc = self._proc
        if proc is None:
            return None
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def freeze(self) -> None:
        """SIGSTOP to the function's process group (Lambda freezes the whole sandbox)."""
        os.killpg(self._require_pid(), signal.SIGSTOP)

    def thaw(self) -> None:
        os.killpg(self._require_pid(), signal.SIGCONT)

    def _require_pid(self) -> int:
        pid = self.pid
        if pid is None:
            raise RuntimeError("no function process")
        return pid

    # ---------------------------------------------------------------- invoking

    def invoke(self, event: Any, timeout_s: float | None = None) -> InvocationResult:
        """Invokes synchronously. bytes are sent as they are (for malformed events), anything
        else as JSON. timeout_s overrides the function timeout for this invocation."""
        return self.invoke_async(event, timeout_s).wait()

    def invoke_async(self, event: Any, timeout_s: float | None = None) -> InvocationHandle:
        body = event if isinstance(event, (bytes, bytearray)) else json.dumps(event).encode()
        if len(body) > PAYLOAD_LIMIT:
            raise PayloadTooLarge(f"event of {len(body)} bytes is over {PAYLOAD_LIMIT}")
        if self._server is None:
            self.start()
        timeout = float(timeout_s) if timeout_s is not None else self.function_timeout
        with self._cond:
            if self._current is not None and not self._current.done.is_set():
                raise RuntimeError(
                    "an invocation is in flight: one execution environment serves one at a "
                    "time (use a second emulator to overlap)"
                )
            cold = self._proc is None or self._proc.poll() is not None
            if cold:
                self._start_process()
            inv = _Invocation(bytes(body), timeout, self._gen, cold)
            inv.pid = self._proc.pid if self._proc else None
            self._invocations[inv.request_id] = inv
            self._current = inv
            self._log_target = inv
            self._queue.append(inv)
            self._cond.notify_all()
        threading.Thread(target=self._supervise, args=(inv,), daemon=True).start()
        return InvocationHandle(self, inv)

    def _supervise(self, inv: _Invocation) -> None:
        # Until the process takes it (init included for cold starts), then until the deadline.
        wait_handed = self.init_timeout + (0 if inv.cold else inv.timeout)
        if not inv.handed.wait(wait_handed):
            if inv.done.is_set():
                return
            self._kill_process(for_timeout=True)
            with self._cond:
                self._complete(inv, "timeout", b"", "Runtime.InitTimeout" if inv.cold else "Sandbox.Timedout")
            return
        remaining = inv.deadline_ms / 1000.0 - time.time()
        if inv.done.wait(max(remaining, 0)):
            return
        self._kill_process(for_timeout=True)
        with self._cond:
            self._complete(inv, "timeout", b"", "Sandbox.Timedout")

    def _complete(self, inv: _Invocation, kind: str, raw: bytes, error_type: str | None) -> None:
        # Called with self._cond held; the first end wins.
        if inv.done.is_set():
            return
        inv.kind = kind
        inv.raw = raw
        inv.error_type = error_type
        inv.ended_at = time.monotonic()
        try:
            self._queue.remove(inv)
        except ValueError:
            pass
        inv.done.set()
        self._cond.notify_all()

    def _finish(self, inv: _Invocation) -> InvocationResult:
        if inv.result is not None:
            return inv.result
        # Let the readers file the lines written before the answer: all of them (EOF) when the
        # process is gone, else until both pipes are drained twice in a row.
        readers = [r for r in self._readers if r.gen == inv.gen]
        dead = self._proc is None or self._proc.pid != inv.pid or self._proc.poll() is not None
        if dead:
            for reader in readers:
                reader.thread.join(timeout=5)
        else:
            settle_until = time.monotonic() + 2.0
            drained = 0
            while drained < 2 and time.monotonic() < settle_until:
                time.sleep(0.02)
                drained = drained + 1 if all(r.idle() for r in readers) else 0
        with self._cond:
            if inv.result is not None:
                return inv.result
            payload = None
            if inv.raw:
                try:
                    payload = json.loads(inv.raw)
                except ValueError:
                    payload = None
            start = inv.handed_at if inv.handed_at is not None else inv.queued_at
            result = InvocationResult(
                kind=inv.kind or "crash",
                payload=payload,
                raw=inv.raw,
                error_type=inv.error_type,
                duration=(inv.ended_at or time.monotonic()) - start,
                logs=[line.text for line in inv.lines],
                log_records=list(inv.lines),
                request_id=inv.request_id,
                cold=inv.cold,
                pid=inv.pid,
                init_duration=inv.init_duration,
                started_at=start,
                ended_at=inv.ended_at or time.monotonic(),
            )
            inv.result = result
            self.results.append(result)
            return result

    # ---------------------------------------------------------------- the Runtime API side

    def _next(self, handler: "http.server.BaseHTTPRequestHandler") -> None:
        with self._cond:
            gen = self._gen
            if self.cold_start_s is None and self._proc is not None:
                self.cold_start_s = time.monotonic() - self._proc_started_at
                for inv in self._queue:
                    if inv.gen == gen and inv.cold:
                        inv.init_duration = self.cold_start_s
            while not self._closed and gen == self._gen and not self._queue:
                self._cond.wait(0.5)
            if self._closed or gen != self._gen:
                handler.close_connection = True
                return
            inv = self._queue.popleft()
            inv.handed_at = time.monotonic()
            inv.deadline_ms = int(time.time() * 1000 + inv.timeout * 1000)
            inv.handed.set()
        trace = (
            f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};"
            f"Parent={secrets.token_hex(8)};Sampled=0;Lineage=1:{secrets.token_hex(4)}:0"
        )
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Lambda-Runtime-Aws-Request-Id", inv.request_id)
        handler.send_header("Lambda-Runtime-Deadline-Ms", str(inv.deadline_ms))
        handler.send_header("Lambda-Runtime-Invoked-Function-Arn", self.function_arn)
        handler.send_header("Lambda-Runtime-Trace-Id", trace)
        handler.send_header("Content-Length", str(len(inv.body)))
        handler.end_headers()
        handler.wfile.write(inv.body)

    def _answer(self, request_id: str, kind: str, body: bytes, too_large: bool,
                error_type: str | None) -> int:
        with self._cond:
            inv = self._invocations.get(request_id)
            if inv is None or inv.handed_at is None:
                return 400
            if inv.done.is_set():
                return 400  # answered already (or timed out, or crashed)
            if too_large:
                self._complete(inv, "error", b"", "Function.ResponseSizeTooLarge")
                return 413
            self._complete(inv, kind, body, error_type)
            return 202

    def _init_error(self, body: bytes, error_type: str | None) -> None:
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        with self._cond:
            self.init_errors.append((error_type, parsed))
            for inv in list(self._queue):
                if inv.gen == self._gen:
                    self._complete(inv, "init_error", body, error_type)


def _read_body(handler: http.server.BaseHTTPRequestHandler) -> tuple[bytes, bool]:
    """The request body (Content-Length or chunked) and whether it is over the payload limit.
    A body over the limit is read and dropped."""
    too_large = False
    chunks: list[bytes] = []
    total = 0
    if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
        while True:
            size_line = handler.rfile.readline()
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            data = handler.rfile.read(size)
            handler.rfile.readline()
            total += len(data)
            if total > PAYLOAD_LIMIT:
                too_large = True
            elif not too_large:
                chunks.append(data)
    else:
        length = int(handler.headers.get("Content-Length") or 0)
        too_large = length > PAYLOAD_LIMIT
        remaining = length
        while remaining > 0:
            data = handler.rfile.read(min(remaining, 1 << 20))
            if not data:
                break
            remaining -= len(data)
            if not too_large:
                chunks.append(data)
    return (b"" if too_large else b"".join(chunks)), too_large


def _make_handler(emulator: RuntimeEmulator) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The headers and the body of an answer are two writes: with Nagle's algorithm the body
        # waits for the ACK of the headers, which the function's kernel delays (~40 ms on Linux)
        # on its kept-alive connection. Lambda's Runtime API adds no such stall to an invocation.
        disable_nagle_algorithm = True

        def log_message(self, fmt, *args):  # quiet
            pass

        def _reply(self, status: int, obj: Any) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == f"{API_PREFIX}/invocation/next":
                emulator._next(self)
            else:
                self._reply(404, {"errorMessage": "not found", "errorType": "NotFound"})

        def do_POST(self):
            body, too_large = _read_body(self)
            parts = self.path.split("/")
            # /2018-06-01/runtime/invocation/{id}/response|error
            if self.path == f"{API_PREFIX}/init/error":
                emulator._init_error(body, self.headers.get("Lambda-Runtime-Function-Error-Type"))
                self._reply(202, {"status": "OK"})
                return
            if len(parts) == 6 and self.path.startswith(f"{API_PREFIX}/invocation/") and parts[5] in (
                "response",
                "error",
            ):
                request_id = parts[4]
                if parts[5] == "response":
                    status = emulator._answer(request_id, "response", body, too_large, None)
                else:
                    error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                    status = emulator._answer(request_id, "error", body, too_large, error_type)
                if status == 202:
                    self._reply(202, {"status": "OK"})
                elif status == 413:
                    self._reply(
                        413,
                        {
                            "errorMessage": f"Exceeded maximum allowed payload size ({PAYLOAD_LIMIT} bytes).",
                            "errorType": "RequestEntityTooLarge",
                        },
                    )
                else:
                    self._reply(
                        400,
                        {
                            "errorMessage": f"Invalid request ID or state: {request_id}",
                            "errorType": "InvalidRequestID",
                        },
                    )
                return
            self._reply(404, {"errorMessage": "not found", "errorType": "NotFound"})

    return Handler


if __name__ == "__main__":  # a manual check: python3 runtime_emulator.py BINARY EVENT_JSON
    with RuntimeEmulator(sys.argv[1:2]) as emu:
        res = emu.invoke(json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
        print(json.dumps(dataclasses.asdict(res), default=str, indent=2))
