"""make test-lambda-local (scripts/lambda_local.py): its --check with the plain binary and with a
package-shaped zip (bootstrap + bundled loader and libraries, started through the loader), and the
interactive mode: the printed curl line works and Ctrl-C stops every child.

OBSYNC_LAMBDA_BINARY, OBSYNC_FAKE_SERVER_BINARY, OBSYNC_BINARY name the binaries (CTest sets them);
without them, build/ of the checkout (skipped when the function is not built).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "lambda_local.py"


def binary(variable: str, default: str) -> Path:
    return Path(os.environ.get(variable) or ROOT / "build" / default)


FUNCTION = binary("OBSYNC_LAMBDA_BINARY", "obsync-lambda")
FAKE_SERVER = binary("OBSYNC_FAKE_SERVER_BINARY", "obsync-fake-server")


def make_package(target: Path) -> Path:
    """A zip shaped like make build-lambda's: bootstrap (the function) at the root, lib/ with its
    ldd closure and the loader. The host's binary keeps its own interpreter path, which does not
    matter: lambda_local.py starts the bootstrap through lib/ld-linux-*."""
    listing = subprocess.run(["ldd", str(FUNCTION)], capture_output=True, text=True, check=True).stdout
    libraries = re.findall(r"=>\s*(/\S+)", listing)
    loaders = re.findall(r"^\s*(/\S*ld-linux\S*)", listing, re.M)
    if not loaders:
        raise unittest.SkipTest("no ld-linux loader in ldd's output (a static binary?)")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, FUNCTION.read_bytes())
        for path in libraries + loaders:
            info = zipfile.ZipInfo(f"lib/{Path(path).name}")
            info.external_attr = 0o755 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, Path(path).read_bytes())
    return target


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["OBSYNC_FAKE_SERVER_BINARY"] = str(FAKE_SERVER)
    env.setdefault("OBSYNC_BINARY", str(ROOT / "build" / "obsync"))
    return env


def descendants(pid: int) -> set[int]:
    """Every process below pid (from /proc's PPid fields)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as f:
                    for line in f:
                        if line.startswith("PPid:"):
                            parents[int(entry)] = int(line.split()[1])
                            break
            except OSError:
                pass
    out: set[int] = set()
    frontier = {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier}
        frontier = children - out
        out |= children
    return out


class LambdaLocalTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for path, variable in ((FUNCTION, "OBSYNC_LAMBDA_BINARY"), (FAKE_SERVER, "OBSYNC_FAKE_SERVER_BINARY")):
            if not path.exists():
                if os.environ.get(variable):
                    raise RuntimeError(f"{variable}={path} does not exist")
                raise unittest.SkipTest(f"{path} is not built")

    def check(self, function: Path) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-B", str(SCRIPT), "--check", "--function", str(function)],
            env=environment(), capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("check passed", result.stderr)
        self.assertNotIn("FAIL", result.stderr)
        for line in ("complete sync: 200, success", "the bucket holds the sample vault byte for byte",
                     "incremental sync: nothing to do", "wrong X-API-Key: 403 Forbidden"):
            self.assertIn(f"PASS {line}", result.stderr)
        return result

    def test_check_with_the_binary(self):
        result = self.check(FUNCTION)
        self.assertIn(f"function: {FUNCTION} (as asked with --function)", result.stderr)

    def test_check_with_a_package(self):
        work = Path(tempfile.mkdtemp(prefix="obsync-lambda-local-test-"))
        self.addCleanup(shutil.rmtree, work, True)
        package = make_package(work / "obsync-lambda-x86_64.zip")
        result = self.check(package)
        self.assertRegex(result.stderr, r"function: \S+/lib/ld-linux\S* --library-path \S+/lib \S+/bootstrap")
        self.assertIn(f"unzipped from {package}", result.stderr)

    def test_check_fails_when_the_function_does(self):
        """The check can fail: a function that exits at once gives 502s, and --check says so."""
        result = subprocess.run(
            [sys.executable, "-B", str(SCRIPT), "--check", "--function", "/bin/false"],
            env=environment(), capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
        )
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("POST /sync -> 502", result.stderr)
        self.assertIn("check FAILED", result.stderr)

    def test_serves_until_interrupted(self):
        proc = subprocess.Popen(
            [sys.executable, "-B", str(SCRIPT), "--function", str(FUNCTION)],
            env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        )
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        lines = {}
        deadline = time.monotonic() + 120
        while "Try" not in lines and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if ":" in line:
                name, _, value = line.strip().partition(":")
                lines[name.strip()] = value.strip()
        self.assertIn("Try", lines, proc.stderr.read() if proc.poll() is not None else "no curl line")
        self.assertRegex(lines["URL"], r"^http://127\.0\.0\.1:\d+/sync$")
        self.assertIn(f"X-API-Key: {lines['API key']}", lines["Try"])
        if shutil.which("curl"):
            reply = subprocess.run(shlex.split(lines["Try"]), capture_output=True, text=True, timeout=120)
            self.assertEqual(reply.returncode, 0, reply.stderr)
            body = json.loads(reply.stdout)
            self.assertTrue(body["success"], body)
            self.assertEqual(body["details"]["sync_type"], "incremental")
        children = descendants(proc.pid)
        self.assertGreaterEqual(len(children), 2, "moto and the fake server should run")
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(timeout=60), 0)
        self.assertIn("stopping", proc.stderr.read())
        time.sleep(0.2)
        alive = [pid for pid in children if os.path.exists(f"/proc/{pid}") and
                 "Z" not in open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0]]
        self.assertEqual(alive, [], "children left running after Ctrl-C")
        proc.stdout.close()
        proc.stderr.close()


if __name__ == "__main__":
    unittest.main()
