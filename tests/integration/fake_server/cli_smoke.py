#!/usr/bin/env python3
"""Smoke test of the real obsync-fake-server binary on 127.0.0.1 (standard library only).

    cli_smoke.py PATH/TO/obsync-fake-server

Covers what the in-process tests cannot: the command line, the ready line, HTTP framing, the
WebSocket transport (upgrade on the API port, pieces, --drop-after, broadcasts to every
connection of a vault with the echo before the ack), seeding a running server and a clean exit
on SIGTERM.
"""
import base64
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import urllib.request

SERVER = sys.argv[1]


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def rest(api, path, body, method="POST"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(api + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        check(response.status in (200, 204), f"{path}: HTTP {response.status}")
        text = response.read()
        return json.loads(text) if text else None


class WebSocket:
    """Just enough RFC 6455 for the test: masked client frames, unfragmented server frames."""

    def __init__(self, host):
        address, port = host.split(":")
        self.sock = socket.create_connection((address, int(port)), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            check(chunk, "connection closed during the upgrade")
            head += chunk
        check(head.startswith(b"HTTP/1.1 101"), f"upgrade refused: {head!r}")

    def send(self, payload, opcode=1):
        if isinstance(payload, dict):
            payload = json.dumps(payload).encode()
        mask = os.urandom(4)
        n = len(payload)
        header = bytes([0x80 | opcode])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + body)

    def _read(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def recv(self):
        first, second = self._read(2)
        n = second & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._read(8))[0]
        payload = self._read(n)
        opcode = first & 0x0F
        if opcode == 8:
            raise ConnectionError("close frame")
        return json.loads(payload) if opcode == 1 else payload


def keyhash_v3(password, salt):
    key = hashlib.scrypt(password.encode(), salt=salt.encode(), n=32768, r=8, p=1,
                         maxmem=64 << 20, dklen=32)
    prk = hmac.new(salt.encode(), key, hashlib.sha256).digest()  # HKDF extract, then expand
    return hmac.new(prk, b"ObsidianKeyHash\x01", hashlib.sha256).hexdigest()


def main():
    work = tempfile.mkdtemp(prefix="obsync-fake-server-smoke-")
    server = None
    try:
        src = os.path.join(work, "src")
        os.makedirs(os.path.join(src, "folder"))
        with open(os.path.join(src, "a.md"), "wb") as f:
            f.write(b"hello")
        with open(os.path.join(src, "big.bin"), "wb") as f:
            f.write(os.urandom(3500))
        data = os.path.join(work, "data")
        server = subprocess.Popen(
            [SERVER, "serve", "--data", data, "--port", "0", "--piece-size", "1000",
             "--drop-after", "14", "--user", "alice@example.com:hunter2", "--verbose"],
            stdout=subprocess.PIPE, text=True)
        ready = json.loads(server.stdout.readline())
        api, host = ready["api"], ready["host"]
        check(api.startswith("http://127.0.0.1:") and host.startswith("127.0.0.1:"), ready)
        check(api.endswith(host), "REST and WebSocket share one port")

        check(rest(api, "/user/signin", b"", method="OPTIONS") is None, "OPTIONS has no body")
        token = rest(api, "/user/signin", {"email": "alice@example.com", "password": "hunter2",
                                           "mfa": ""})["token"]
        check("error" in rest(api, "/nope", {}), "unknown path")
        check("error" in rest(api, "/vault/list", b"{oops"), "malformed JSON")

        # seed runs next to serve on the same data directory; serve must see it at once.
        vault_id = subprocess.run(
            [SERVER, "seed", "--data", data, "--owner", "alice@example.com", "--vault", "V",
             "--password", "pw", "--encryption-version", "3", src],
            check=True, capture_output=True, text=True).stdout.strip()
        vaults = rest(api, "/vault/list", {"token": token, "supported_encryption_version": 3})
        entry = vaults["vaults"][0]
        check(entry["id"] == vault_id and entry["host"] == host, entry)
        keyhash = keyhash_v3("pw", entry["salt"])
        check(rest(api, "/vault/access", {"token": token, "vault_uid": vault_id,
                                          "keyhash": keyhash, "host": host,
                                          "encryption_version": 3}) == {}, "access")

        init = {"op": "init", "token": token, "id": vault_id, "keyhash": keyhash, "version": 0,
                "initial": True, "device": "smoke", "encryption_version": 3}
        for connection in ("dropped", "kept"):
            ws = WebSocket(host)
            # --drop-after counts the frames the server sends on a connection.
            ws.send(init)
            check(ws.recv()["res"] == "ok", "init")  # sent 1
            pushes = []
            while True:
                message = ws.recv()
                if message.get("op") == "ready":
                    break
                pushes.append(message)
            check([p["uid"] for p in pushes] == [1, 2, 3], pushes)  # sent 2-4, ready 5
            check(message["version"] == 3, message)
            big = next(p for p in pushes if p["size"] == 3528)  # 3500 bytes + 28 (§3.3)
            ws.send({"op": "pull", "uid": big["uid"]})  # header 6, pieces 7-10
            header = ws.recv()
            check(header == {"size": 3528, "pieces": 4, "deleted": False}, header)
            sizes = [len(ws.recv()) for _ in range(4)]
            check(sizes == [1000, 1000, 1000, 528], sizes)
            ws.send({"op": "ping"})
            check(ws.recv() == {"op": "pong"}, "pong")  # sent 11
            # Header 12, pieces 13 and 14, then --drop-after 14 cuts the pull in the middle.
            ws.send({"op": "pull", "uid": big["uid"]})
            try:
                check(ws.recv()["size"] == 3528, "second pull")
                for _ in range(4):
                    ws.recv()
                dropped = False
            except ConnectionError as error:
                check(str(error) == "closed", "dropped without a close frame")
                dropped = True
            check(dropped == (connection == "dropped"), f"{connection} connection")
            ws.sock.close()

        # Two live connections of one vault (--drop-after has had its one drop): a push from one
        # reaches both, and its sender gets the echo before the ack (§4.5, §7 WebSocket 5).
        sender, listener = WebSocket(host), WebSocket(host)
        for ws in (sender, listener):
            ws.send(dict(init, version=3, initial=False))
            check(ws.recv()["res"] == "ok", "init")
            check(ws.recv() == {"op": "ready", "version": 3}, "nothing new before ready")
        folder = {"op": "push", "path": "0f1e2d", "hash": "", "ctime": 0, "mtime": 0,
                  "folder": True, "deleted": False, "size": 0, "pieces": 0}
        sender.send(folder)
        echo = sender.recv()
        check(echo.get("op") == "push" and echo["uid"] == 4 and echo["path"] == "0f1e2d"
              and echo["folder"] and echo["device"] == "smoke", f"echo first: {echo}")
        check(sender.recv() == {"res": "ok"}, "then the ack")
        check(listener.recv() == echo, "the other connection gets the same push")
        # A file push: the echo comes after the last piece, still before the ack.
        sender.send({"op": "push", "path": "a1b2", "hash": "c3d4", "ctime": 5, "mtime": 6,
                     "folder": False, "deleted": False, "size": 3, "pieces": 1})
        check(sender.recv() == {"res": "next"}, "pieces wanted")
        sender.send(b"xyz", opcode=2)
        echo = sender.recv()
        check(echo.get("op") == "push" and echo["uid"] == 5 and echo["size"] == 3
              and echo["hash"] == "c3d4" and echo["mtime"] == 6, f"file echo first: {echo}")
        check(sender.recv() == {"res": "ok"}, "then the file ack")
        check(listener.recv() == echo, "the other connection gets the file push")
        for ws in (sender, listener):
            ws.sock.close()

        server.send_signal(signal.SIGTERM)
        check(server.wait(timeout=10) == 0, "exit code 0 on SIGTERM")
        server = None
        print("fake server smoke test: OK")
    finally:
        if server is not None:
            server.kill()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
