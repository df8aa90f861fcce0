#!/usr/bin/env python3
"""make test-lambda-local: the Lambda function behind a local "API Gateway", without Docker.

What `sam local start-api` would do, on 127.0.0.1 only:
- obsync-fake-server seeded with demo/sample-vault ("Demo vault", as make demo does);
- moto_server with the backup bucket, the state table (`obsync state-init`, as docs/aws.md says;
  the function never creates it) and a Secrets Manager secret holding the fake user's credentials;
- the function (the unzipped package, or build/obsync-lambda) under our Lambda Runtime API
  emulator (tests/lambda/runtime_emulator.py), one warm execution environment;
- an HTTP front that accepts only POST /sync with the right X-API-Key, turns the request into an
  API Gateway REST (v1) proxy event and answers with the function's statusCode, headers and body.

It prints the URL, the key and a curl line, then serves until Ctrl-C (or SIGTERM) and stops every
child. --check makes the requests itself (a complete sync, an incremental one, a wrong key, a
wrong method and path), checks the answers and the bucket, and exits non-zero on a failure.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import http.server
import json
import os
import queue
import secrets
import shlex
import shutil
import signal
import socketserver
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "lambda"))

# The bundled demo account (scripts/demo.sh); it only exists inside the local fake server.
EMAIL = "demo@example.com"
ACCOUNT_PASSWORD = "demo-password"
VAULT = "Demo vault"
VAULT_PASSWORD = "demo vault password"
BUCKET = "obsync-local-backups"
PREFIX = "obsidian"
TABLE = "obsync-local-state"
SECRET_ID = "obsync/local-credentials"
FUNCTION_NAME = "obsync-local"
API_ID = "obsynclocal"
STAGE = "local"
BODY_LIMIT = 10 * 1024 * 1024  # API Gateway's payload limit


def say(message: str) -> None:
    print(f"lambda-local: {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ the function


def function_command(spec: str | None, build: Path, scratch: Path) -> tuple[list[str], dict[str, str], str]:
    """(argv, extra environment, description) of the function to run.

    spec: a package zip, an unpacked package folder, or an executable (a command line is split
    like a shell would). Default: build/lambda/obsync-lambda-x86_64.zip when it exists, else
    <build>/obsync-lambda."""
    if spec is None:
        package = ROOT / "build" / "lambda" / "obsync-lambda-x86_64.zip"
        if package.exists():
            spec = str(package)
            why = "the packaged function (default: the x86_64 zip exists)"
        else:
            spec = str(build / "obsync-lambda")
            why = f"the unpackaged binary (default: {package.relative_to(ROOT)} does not exist)"
    else:
        why = "as asked with --function"
    path = Path(spec)
    if path.is_file() and zipfile.is_zipfile(path):
        folder = scratch / "task"
        with zipfile.ZipFile(path) as archive:
            archive.extractall(folder)
            # zipfile drops the Unix modes: put back the ones the archive recorded.
            for info in archive.infolist():
                mode = (info.external_attr >> 16) & 0o777
                if mode:
                    os.chmod(folder / info.filename, mode)
        path = folder
        why += f", unzipped from {spec}"
    if path.is_dir():
        bootstrap = path / "bootstrap"
        if not bootstrap.exists():
            raise SystemExit(f"lambda-local: {path} has no bootstrap at its root")
        # The package's bootstrap asks for /var/task/lib/ld-linux-…: outside Lambda it is started
        # through the bundled loader, with the bundled libraries.
        loaders = sorted((path / "lib").glob("ld-linux*.so*")) if (path / "lib").is_dir() else []
        env = {"LAMBDA_TASK_ROOT": str(path)}
        if loaders:
            argv = [str(loaders[0]), "--library-path", str(path / "lib"), str(bootstrap)]
        else:
            argv = [str(bootstrap)]
        return argv, env, f"{' '.join(argv)} ({why})"
    argv = shlex.split(spec)
    if not Path(argv[0]).exists() and shutil.which(argv[0]) is None:
        raise SystemExit(
            f"lambda-local: {argv[0]} does not exist: build it (cmake --build build --target "
            "obsync-lambda, or make build-lambda for the package) or name it with --function"
        )
    return argv, {}, f"{' '.join(argv)} ({why})"


class Invoker:
    """One execution environment; every invocation runs on one long-lived thread (the function
    process is tied to the thread that started it, and one environment serves one invocation at a
    time, so concurrent HTTP requests queue here)."""

    def __init__(self, emulator, verbose: bool):
        self.emulator = emulator
        self.verbose = verbose
        self.jobs: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="invoker", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            event, box, done = job
            try:
                box.append(self.emulator.invoke(event))
            except BaseException as error:  # noqa: BLE001 - handed to the waiting request
                box.append(error)
            done.set()

    def invoke(self, event: dict):
        box: list = []
        done = threading.Event()
        self.jobs.put((event, box, done))
        done.wait()
        if isinstance(box[0], BaseException):
            raise box[0]
        result = box[0]
        if self.verbose:
            for line in result.logs:
                print(f"  | {line}", file=sys.stderr, flush=True)
        return result

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join(timeout=5)


# ------------------------------------------------------------------------------ the HTTP front


def proxy_event(handler: http.server.BaseHTTPRequestHandler, body: bytes, api_key: str, port: int) -> dict:
    """An API Gateway REST API (v1) Lambda proxy event, as the real one for POST /sync looks."""
    path, _, query = handler.path.partition("?")
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in handler.headers.items():
        headers[name] = value  # the last one wins, as in API Gateway
        multi_headers.setdefault(name, []).append(value)
    params: dict[str, str] = {}
    multi_params: dict[str, list[str]] = {}
    if query:
        from urllib.parse import parse_qsl

        for name, value in parse_qsl(query, keep_blank_values=True):
            params[name] = value
            multi_params.setdefault(name, []).append(value)
    now = time.time()
    try:
        text, b64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, b64 = base64.b64encode(body).decode(), True
    request_id = str(uuid.uuid4())
    return {
        "resource": "/sync",
        "path": path,
        "httpMethod": handler.command,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": params or None,
        "multiValueQueryStringParameters": multi_params or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "sync01",
            "resourcePath": "/sync",
            "httpMethod": handler.command,
            "extendedRequestId": base64.b64encode(os.urandom(12)).decode(),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"/{STAGE}{path}",
            "accountId": "123456789012",
            "protocol": handler.request_version,
            "stage": STAGE,
            "domainPrefix": API_ID,
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "cognitoIdentityId": None,
                "apiKey": api_key,
                "principalOrgId": None,
                "cognitoAuthenticationType": None,
                "userArn": None,
                "apiKeyId": "localkey01",
                "userAgent": handler.headers.get("User-Agent"),
                "accountId": None,
                "caller": None,
                "sourceIp": handler.client_address[0],
                "accessKey": None,
                "cognitoAuthenticationProvider": None,
                "user": None,
            },
            "domainName": f"127.0.0.1:{port}",
            "apiId": API_ID,
        },
        "body": text if body else None,
        "isBase64Encoded": b64,
    }


class Front:
    def __init__(self, invoker: Invoker, api_key: str, port: int):
        self.invoker = invoker
        self.api_key = api_key
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "obsync-lambda-local"

            def log_message(self, fmt, *args):
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                sent = {"content-type": False}
                for name, value in (headers or {}).items():
                    if name.lower() in ("content-length", "connection", "transfer-encoding"):
                        continue
                    sent["content-type"] |= name.lower() == "content-type"
                    self.send_header(name, value)
                if not sent["content-type"]:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _message(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
                self._send(status, json.dumps({"message": message}).encode(), headers)

            def _handle(self):
                started = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                if length > BODY_LIMIT:
                    self.close_connection = True
                    return self._message(413, "Request Too Long")
                body = self.rfile.read(length) if length else b""
                path = self.path.partition("?")[0]
                if path.rstrip("/") != "/sync":
                    front.note(self.command, self.path, 404, started)
                    return self._message(404, "Not Found")
                if self.command != "POST":
                    front.note(self.command, self.path, 405, started)
                    return self._message(405, "Method Not Allowed", {"Allow": "POST"})
                given = self.headers.get("X-API-Key") or ""
                if not secrets.compare_digest(given.encode(), front.api_key.encode()):
                    front.note(self.command, self.path, 403, started, "wrong or missing X-API-Key")
                    return self._message(403, "Forbidden")
                event = proxy_event(self, body, front.api_key, self.server.server_address[1])
                try:
                    result = front.invoker.invoke(event)
                except Exception as error:  # noqa: BLE001
                    front.note(self.command, self.path, 502, started, f"invoke failed: {error}")
                    return self._message(502, "Internal server error")
                payload = result.payload
                if result.kind != "response" or not isinstance(payload, dict) or "statusCode" not in payload:
                    # API Gateway answers a function error or a malformed proxy response so.
                    detail = result.error_type or "malformed Lambda proxy response"
                    front.note(self.command, self.path, 502, started, f"{result.kind}: {detail}")
                    return self._message(502, "Internal server error")
                out = payload.get("body") or ""
                data = base64.b64decode(out) if payload.get("isBase64Encoded") else out.encode()
                headers = {k: str(v) for k, v in (payload.get("headers") or {}).items()}
                for name, values in (payload.get("multiValueHeaders") or {}).items():
                    if values:
                        headers[name] = str(values[-1])
                front.note(
                    self.command, self.path, int(payload["statusCode"]), started,
                    ("cold start" if result.cold else "warm") + f", function {result.duration:.2f} s",
                )
                self._send(int(payload["statusCode"]), data, headers)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/sync"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self.thread.start()

    @staticmethod
    def note(method: str, path: str, status: int, started: float, detail: str = "") -> None:
        extra = f" ({detail})" if detail else ""
        say(f"{method} {path} -> {status} in {time.monotonic() - started:.2f} s{extra}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------------------ the check


def request(port: int, method: str, path: str, body: Any = None, key: str | None = None) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["X-API-Key"] = key
    data = json.dumps(body).encode() if body is not None else None
    connection.request(method, path, body=data, headers=headers)
    reply = connection.getresponse()
    out = reply.read()
    result = reply.status, {k.lower(): v for k, v in reply.getheaders()}, out
    connection.close()
    return result


def run_check(front: Front, key: str, moto, vault_copy: Path, emulator) -> int:
    import loopback

    failures: list[str] = []

    def expect(ok: bool, what: str) -> None:
        say(("PASS " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    source = loopback.source_files(vault_copy)
    s3 = moto.client("s3")

    status, _, raw = request(front.port, "POST", "/sync", {"sync_type": "complete"}, key)
    body = json.loads(raw or b"{}") if status else {}
    expect(status == 200 and body.get("success") is True, f"complete sync: 200, success ({status}, {raw[:300]!r})")
    expect(body.get("files_count") == len(source), f"complete sync: files_count {body.get('files_count')} == {len(source)} files")
    stored = loopback.bucket_files(s3, BUCKET, f"{PREFIX}/{VAULT}")
    expect(stored == source, f"the bucket holds the sample vault byte for byte ({len(stored)} objects)")

    status, _, raw = request(front.port, "POST", "/sync", {"sync_type": "incremental"}, key)
    body = json.loads(raw or b"{}")
    expect(status == 200 and body.get("success") is True, f"incremental sync: 200, success ({status})")
    expect(body.get("files_count") == 0, f"incremental sync: nothing to do (files_count {body.get('files_count')})")

    status, _, raw = request(front.port, "POST", "/sync", {"sync_type": "incremental"}, "wrong-" + key)
    expect(status == 403 and json.loads(raw) == {"message": "Forbidden"}, f"wrong X-API-Key: 403 Forbidden ({status} {raw!r})")
    status, _, raw = request(front.port, "POST", "/sync", {})
    expect(status == 403, f"no X-API-Key: 403 ({status})")
    status, headers, _ = request(front.port, "GET", "/sync", None, key)
    expect(status == 405 and headers.get("allow") == "POST", f"GET /sync: 405 with Allow: POST ({status})")
    status, _, _ = request(front.port, "POST", "/other", {}, key)
    expect(status == 404, f"POST /other: 404 ({status})")

    status, _, raw = request(front.port, "POST", "/sync", {"sync_typo": "complete"}, key)
    expect(status == 400, f"a request the function refuses is its own 400 ({status})")

    leaked = [line.text for line in emulator.all_logs if ACCOUNT_PASSWORD in line.text or VAULT_PASSWORD in line.text]
    expect(not leaked, "no password in any function log line")
    expect(len(emulator.results) == 3 and emulator.starts == 1, f"one warm environment served the 3 invocations (processes started: {emulator.starts})")

    if failures:
        say(f"check FAILED: {len(failures)} of the checks above")
        return 1
    say("check passed")
    return 0


# ------------------------------------------------------------------------------ main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--function", help="package zip, unpacked package folder or executable (default: "
                        "build/lambda/obsync-lambda-x86_64.zip if it exists, else BUILD/obsync-lambda)")
    parser.add_argument("--build", default=str(ROOT / "build"), help="build folder (obsync-fake-server, obsync)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("LAMBDA_LOCAL_PORT") or 0),
                        help="port of the HTTP front on 127.0.0.1 (default: a free one)")
    parser.add_argument("--timeout", type=float, default=120, help="the function's timeout in seconds")
    parser.add_argument("--check", action="store_true", help="make the requests, check the answers, exit")
    parser.add_argument("--verbose", action="store_true", help="print the function's log lines")
    args = parser.parse_args()

    build = Path(args.build).resolve()
    os.environ.setdefault("OBSYNC_FAKE_SERVER_BINARY", str(build / "obsync-fake-server"))
    os.environ.setdefault("OBSYNC_BINARY", str(build / "obsync"))
    import loopback  # noqa: E402 - after the binaries are named
    from runtime_emulator import RuntimeEmulator  # noqa: E402

    scratch = Path(tempfile.mkdtemp(prefix="obsync-lambda-local-"))
    stack: list = []  # what to close, in reverse order
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        argv, function_env, description = function_command(args.function, build, scratch)
        say(f"function: {description}")

        moto = loopback.MotoServer()
        stack.append(moto.close)
        say(f"moto_server on {moto.endpoint}")

        # Git does not keep empty folders; the sample vault has one (as scripts/demo.sh).
        vault_copy = scratch / "sample-vault"
        shutil.copytree(ROOT / "demo" / "sample-vault", vault_copy)
        (vault_copy / "Empty folder").mkdir(exist_ok=True)
        fake = loopback.FakeObsidian([f"{EMAIL}:{ACCOUNT_PASSWORD}"])
        stack.append(fake.close)
        fake.seed(EMAIL, VAULT, VAULT_PASSWORD, vault_copy)
        say(f"fake Obsidian server on {fake.api}: account {EMAIL}, vault \"{VAULT}\" (demo/sample-vault)")

        s3 = moto.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        loopback.create_state_table(moto, TABLE)
        secret = {"email": EMAIL, "password": ACCOUNT_PASSWORD, "vaults": {VAULT: {"password": VAULT_PASSWORD}}}
        moto.client("secretsmanager").create_secret(Name=SECRET_ID, SecretString=json.dumps(secret))
        say(f"bucket s3://{BUCKET}/{PREFIX}/, state table {TABLE}, secret {SECRET_ID} (in moto)")

        env = {
            **moto.aws_environment(),
            "OBSIDIAN_API_URL": fake.api,
            "S3_BUCKET": BUCKET,
            "S3_PREFIX": PREFIX,
            "STATE_TABLE_NAME": TABLE,
            "OBSYNC_SECRET_ID": SECRET_ID,
            "OBSYNC_LOG_LEVEL": "INFO",
            **function_env,
        }
        emulator = RuntimeEmulator(argv, env, function_timeout=args.timeout, function_name=FUNCTION_NAME)
        emulator.start()
        stack.append(emulator.close)
        invoker = Invoker(emulator, args.verbose)
        stack.append(invoker.close)

        key = secrets.token_urlsafe(24)
        front = Front(invoker, key, args.port)
        stack.append(front.close)

        if args.check:
            return run_check(front, key, moto, vault_copy, emulator)

        curl = (f"curl -sS -X POST {front.url} -H 'X-API-Key: {key}' "
                "-H 'Content-Type: application/json' -d '{\"sync_type\":\"incremental\"}'")
        print(f"\n  URL:     {front.url}\n  API key: {key}\n  Try:     {curl}\n", flush=True)
        say("serving (the first request syncs everything; Ctrl-C stops every part)")
        while not stop.wait(0.5):
            pass
        say("stopping")
        return 0
    finally:
        for close in reversed(stack):
            try:
                close()
            except Exception as error:  # noqa: BLE001 - keep closing the rest
                say(f"while stopping: {error}")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
