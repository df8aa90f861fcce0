"""The whole real path on loopback, for the Lambda scenario tests.

- MotoServer: moto_server on a free 127.0.0.1 port (OBSYNC_MOTO_SERVER may name the binary), as
  tests/support/moto_server.cpp starts it; boto3 clients pointed at it.
- CountingProxy: a tiny HTTP proxy in front of moto that counts the calls by X-Amz-Target (so a
  test can count GetSecretValue); loopback only.
- FakeObsidian: build/obsync-fake-server `serve --verbose` on a free port (its stderr has one line
  per REST request and per sync message: sign-ins and pulls are counted from it), `seed`.
- Binaries: OBSYNC_LAMBDA_BINARY, OBSYNC_FAKE_SERVER_BINARY, OBSYNC_BINARY, else build/ of the
  checkout.
Nothing here contacts anything but 127.0.0.1.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import re
import shutil
import socket
import socketserver
import sqlite3
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from runtime_emulator import die_with_parent

ROOT = Path(__file__).resolve().parents[2]

# moto accepts any key while its signature checks are off; these never leave loopback.
TEST_ACCESS_KEY = "AKIAOBSYNCLAMBDATEST"
TEST_SECRET_KEY = "obsync-lambda-test-aws-secret-key-0123456789"
TEST_SESSION_TOKEN = "obsync-lambda-test-session-token-FwoGZXIvYXdzEJr"
REGION = "us-east-1"


def binary(env_name: str, default: str) -> Path:
    value = os.environ.get(env_name)
    return Path(value) if value else ROOT / "build" / default


def lambda_binary() -> Path:
    return binary("OBSYNC_LAMBDA_BINARY", "obsync-lambda")


def fake_server_binary() -> Path:
    return binary("OBSYNC_FAKE_SERVER_BINARY", "obsync-fake-server")


def obsync_binary() -> Path:
    return binary("OBSYNC_BINARY", "obsync")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, what: str, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited at start with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {limit} s")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


# ------------------------------------------------------------------------------------ moto


class MotoServer:
    def __init__(self, extra_env: dict[str, str] | None = None):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        command = os.environ.get("OBSYNC_MOTO_SERVER", "moto_server")
        if shutil.which(command) is None:
            raise RuntimeError(
                f"cannot find {command}: install moto with pip install 'moto[server]' or point "
                "OBSYNC_MOTO_SERVER at moto_server"
            )
        self.proc = subprocess.Popen(
            [command, "-H", "127.0.0.1", "-p", str(self.port)],
            env={**os.environ, **(extra_env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        try:
            _wait_listening(self.port, self.proc, "moto_server")
        except BaseException:
            _stop(self.proc)
            raise

    def close(self) -> None:
        _stop(self.proc)

    def client(self, service: str, endpoint: str | None = None):
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=endpoint or self.endpoint,
            region_name=REGION,
            aws_access_key_id=TEST_ACCESS_KEY,
            aws_secret_access_key=TEST_SECRET_KEY,
            config=Config(retries={"max_attempts": 2}, proxies={}),
        )

    def aws_environment(self) -> dict[str, str]:
        """What the function gets (Lambda's credentials, moto as every endpoint)."""
        return {
            "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": TEST_SECRET_KEY,
            "AWS_SESSION_TOKEN": TEST_SESSION_TOKEN,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
        }


class CountingProxy:
    """Forwards every request to `upstream` and counts them by X-Amz-Target (or METHOD path).

    serialize=True forwards one request at a time. moto's DynamoDB does not make a conditional
    write atomic against a concurrent one (seen here: two UpdateItem calls with
    attribute_not_exists on one item, 2 ms apart, both succeeded), while DynamoDB does; tests
    that run several functions at once put their DynamoDB traffic through such a proxy, so that
    leases and account slots behave as on AWS."""

    def __init__(self, upstream: str, serialize: bool = False):
        self.upstream = upstream.removeprefix("http://")
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._one_at_a_time = threading.Lock() if serialize else None
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                target = self.headers.get("X-Amz-Target") or f"{self.command} {self.path.split('?')[0]}"
                with proxy._lock:
                    proxy.counts[target] = proxy.counts.get(target, 0) + 1
                connection = http.client.HTTPConnection(proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                if proxy._one_at_a_time is not None:
                    with proxy._one_at_a_time:
                        connection.request(self.command, self.path, body=body, headers=headers)
                        reply = connection.getresponse()
                        data = reply.read()
                else:
                    connection.request(self.command, self.path, body=body, headers=headers)
                    reply = connection.getresponse()
                    data = reply.read()
                self.send_response(reply.status)
                for name, value in reply.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                connection.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def count(self, target: str) -> int:
        with self._lock:
            return self.counts.get(target, 0)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# ---------------------------------------------------------------------- fake Obsidian server

PULL_RE = re.compile(r"ws pull uid=(\d+)")


class FakeObsidian:
    """obsync-fake-server serving one data folder; its stderr lines are kept with their time."""

    def __init__(self, users: list[str], extra: list[str] | None = None):
        self.binary = fake_server_binary()
        if not self.binary.exists():
            raise RuntimeError(f"{self.binary} does not exist: build the obsync-fake-server target")
        self.data = Path(tempfile.mkdtemp(prefix="obsync-fake-obsidian-"))
        argv = [str(self.binary), "serve", "--data", str(self.data), "--port", "0", "--verbose"]
        for user in users:
            argv += ["--user", user]
        argv += extra or []
        self.lines: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=die_with_parent,
        )
        threading.Thread(target=self._read_stderr, daemon=True).start()
        ready = self.proc.stdout.readline().decode()
        try:
            info = json.loads(ready)
            self.api = info["api"]
            self.host = info["host"]
        except (ValueError, KeyError):
            _stop(self.proc)
            raise RuntimeError(f"obsync-fake-server did not print its ready line: {ready!r}")

    def _read_stderr(self) -> None:
        for raw in iter(self.proc.stderr.readline, b""):
            with self._lock:
                self.lines.append((time.monotonic(), raw.decode("utf-8", "replace").rstrip("\n")))
        self.proc.stderr.close()

    def settle(self, quiet: float = 0.2, limit: float = 5.0) -> None:
        """Waits until the server's stderr has been quiet for `quiet` seconds (so the lines of
        what happened so far have been read)."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            with self._lock:
                last = self.lines[-1][0] if self.lines else 0.0
            if time.monotonic() - last >= quiet:
                return
            time.sleep(0.05)

    def log(self, since: float = 0.0) -> list[str]:
        with self._lock:
            return [line for at, line in self.lines if at >= since]

    def signins(self, since: float = 0.0) -> int:
        return sum(1 for line in self.log(since) if "/user/signin" in line)

    def pulls(self, since: float = 0.0) -> list[int]:
        """The uids pulled (in order, repeats kept) since a time.monotonic() mark."""
        out = []
        for line in self.log(since):
            match = PULL_RE.search(line)
            if match:
                out.append(int(match.group(1)))
        return out

    def admin(self, subcommand: str, *args: str) -> str:
        result = subprocess.run(
            [str(self.binary), subcommand, "--data", str(self.data), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"obsync-fake-server {subcommand} failed: {result.stderr.decode()}")
        return result.stdout.decode().strip()

    def seed(self, owner: str, vault: str, password: str, source: Path, version: int = 3) -> str:
        """Seeds a vault from a folder; returns what seed prints (the vault id)."""
        return self.admin(
            "seed", "--owner", owner, "--vault", vault, "--password", password,
            "--encryption-version", str(version), str(source),
        )

    def vault_ids(self) -> dict[str, str]:
        """name -> id of every vault, read from the server's database."""
        with sqlite3.connect(f"file:{self.data / 'fake-server.db'}?mode=ro", uri=True) as db:
            return {name: vid for vid, name in db.execute("SELECT id, name FROM vaults")}

    def tokens(self) -> list[str]:
        """Every session token the server handed out (they must never be logged)."""
        try:
            with sqlite3.connect(f"file:{self.data / 'fake-server.db'}?mode=ro", uri=True) as db:
                return [row[0] for row in db.execute("SELECT token FROM tokens")]
        except sqlite3.Error:
            return []

    def close(self) -> None:
        _stop(self.proc)
        self.proc.stdout.close()
        shutil.rmtree(self.data, ignore_errors=True)


# ------------------------------------------------------------------------------ AWS setup


def create_state_table(moto: MotoServer, table: str) -> None:
    """`obsync state-init dynamodb://TABLE` against moto (the real schema), or the same schema
    through boto3 when the obsync binary is not built."""
    tool = obsync_binary()
    if tool.exists():
        env = {"PATH": os.environ.get("PATH", ""), **moto.aws_environment()}
        env.pop("AWS_SESSION_TOKEN")
        scratch = tempfile.mkdtemp(prefix="obsync-state-init-")
        env.update(XDG_CONFIG_HOME=scratch, XDG_STATE_HOME=scratch)
        try:
            result = subprocess.run(
                [str(tool), "state-init", "--state", f"dynamodb://{table}"],
                env=env, capture_output=True, stdin=subprocess.DEVNULL, timeout=120,
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if result.returncode != 0:
            raise RuntimeError(f"obsync state-init failed: {result.stderr.decode()}")
        return
    ddb = moto.client("dynamodb")
    ddb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "vault_id", "AttributeType": "S"},
            {"AttributeName": "item", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "vault_id", "KeyType": "HASH"},
            {"AttributeName": "item", "KeyType": "RANGE"},
        ],
    )
    ddb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
    )


def bucket_files(s3, bucket: str, prefix: str) -> dict[str, bytes]:
    """key (below prefix/) -> bytes of every file object, without folder markers and obsync's
    own .obsync/ objects."""
    out = {}
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix + "/" if prefix else ""):
        for item in page.get("Contents", []):
            key = item["Key"]
            relative = key[len(prefix) + 1:] if prefix else key
            if relative.endswith("/") or "/.obsync/" in "/" + relative:
                continue
            out[relative] = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return out


def table_items(ddb, table: str) -> list[dict]:
    items = []
    paginator = ddb.get_paginator("scan")
    for page in paginator.paginate(TableName=table, ConsistentRead=True):
        items.extend(page.get("Items", []))
    return sorted(items, key=lambda i: (i["vault_id"]["S"], i["item"]["S"]))


def committed_uids(items: list[dict], vault_id: str | None = None) -> set[int]:
    """The uids of the FILE items (of one vault, or all): what the state says was committed."""
    out = set()
    for item in items:
        if vault_id is not None and item["vault_id"]["S"] != vault_id:
            continue
        if item["item"]["S"].startswith("FILE#") and "u" in item:
            out.add(int(item["u"]["N"]))
    return out


def source_files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
