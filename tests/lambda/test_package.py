"""The Lambda packages (build/lambda/obsync-lambda-<arch>.zip, `make build-lambda`) in an empty root.

EmptyRootX86_64Test / EmptyRootArm64Test: the zip is unpacked into a fresh root that holds only
var/task/ (the package), tmp/ and a minimal etc/ (hosts, resolv.conf, nsswitch.conf and a CA
bundle at Amazon Linux's /etc/pki/tls/certs/ca-bundle.crt), no /lib, /usr or /proc. The function
runs there (`unshare --map-root-user --mount --pid --fork --kill-child chroot ROOT
/var/task/bootstrap`; arm64 through qemu-aarch64-static copied into the root, the stand-in for the
CPU) under our Runtime API emulator, and serves real invocations: a complete sync of a seeded
vault, then an incremental one, against obsync-fake-server (http://localhost:PORT, resolved
through the root's /etc/hosts) and moto behind a TLS proxy (https://aws.obsync.test:PORT, a name
of the root's /etc/hosts, a certificate of a test CA that only the root's AL2023 bundle holds;
SSL_CERT_FILE is not set). So the bundled loader and glibc, name resolution without NSS modules,
the CA probe and the static OpenSSL are all exercised. A second start without the bundle must
fail the TLS handshake with a message that says where it looked. Each prints its cold start.

ReproducibleTest: the packager re-run from the same binaries gives the same bytes; the zip's
entries are sorted, dated 1980-01-01, within 8 MB; bootstrap's interpreter is the bundled loader;
no bundled object needs a NEEDED library outside lib/ or a GLIBC_ version the bundled libc lacks;
and the packager refuses a missing library, the wrong architecture, an oversize zip and a libc
without the versions the binary needs.

OBSYNC_LAMBDA_PACKAGE_DIR names build/lambda, where the zips are (CTest sets it; default:
build/lambda of the checkout); the unstripped binaries are in build-lambda-<arch>/ of the checkout.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
import zipfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import loopback  # noqa: E402
from runtime_emulator import RuntimeEmulator  # noqa: E402
from test_function import (  # noqa: E402
    ACCOUNT_PASSWORD, EMAIL, TOTP_SECRET, VAULT_PASSWORD, make_corpus, write,
)

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = Path(os.environ.get("OBSYNC_LAMBDA_PACKAGE_DIR") or ROOT / "build" / "lambda")


def package_binary(arch: str) -> Path:
    """The binary make build-lambda packaged (its CMake tree, beside build/)."""
    return ROOT / f"build-lambda-{arch}" / "obsync-lambda"
AWS_NAME = "aws.obsync.test"
QEMU = "/usr/bin/qemu-aarch64-static"
LOADERS = {"x86_64": "ld-linux-x86-64.so.2", "arm64": "ld-linux-aarch64.so.1"}
# What Lambda sets (provided.al2023); in the empty root none of these folders exists, and the
# bundled libraries come first anyway (DT_RPATH is searched before LD_LIBRARY_PATH).
LAMBDA_PATH = "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
LAMBDA_LD_LIBRARY_PATH = "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"


def package_zip(arch: str) -> Path:
    path = PACKAGE_DIR / f"obsync-lambda-{arch}.zip"
    if not path.exists():
        raise AssertionError(f"{path} does not exist: run `make build-lambda` first")
    return path


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_ca(folder: Path, name: str) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for `name` signed by it: (ca.pem, cert, key)."""
    ca_key, ca = folder / "ca.key", folder / "ca.pem"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-days", "2", "-subj", "/CN=Obsync test CA", "-keyout", str(ca_key), "-out", str(ca))
    key, csr, cert, ext = (folder / n for n in ("server.key", "server.csr", "server.pem", "ext.cnf"))
    ext.write_text(f"subjectAltName=DNS:{name}\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(csr))
    openssl("x509", "-req", "-days", "2", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-extfile", str(ext), "-out", str(cert))
    return ca, cert, key


class TlsProxy:
    """Terminates TLS on a free 127.0.0.1 port and pumps the bytes to a plain upstream port."""

    def __init__(self, upstream_port: int, cert: Path, key: Path):
        self.upstream_port = upstream_port
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert), str(key))
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(32)
        self.port = self.listener.getsockname()[1]
        self.handshakes = 0
        self.failed_handshakes = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            client.settimeout(30)
            tls = self.context.wrap_socket(client, server_side=True)
        except (OSError, ssl.SSLError):
            self.failed_handshakes += 1
            client.close()
            return
        self.handshakes += 1
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)
        tls.settimeout(None)
        upstream.settimeout(None)
        try:
            while not self._closed:
                # TLS may hold decrypted bytes that select() cannot see: drain them first.
                readable = [tls] if tls.pending() else select.select([tls, upstream], [], [], 1)[0]
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    (upstream if source is tls else tls).sendall(data)
        except (OSError, ssl.SSLError):
            pass
        finally:
            upstream.close()
            tls.close()

    def close(self) -> None:
        self._closed = True
        self.listener.close()


class EmptyRoot:
    """A root folder with only the unpacked package, tmp/ and a minimal etc/."""

    def __init__(self, parent: Path, arch: str, ca_bundle: Path | None):
        self.path = parent / f"root-{arch}"
        task = self.path / "var" / "task"
        task.mkdir(parents=True)
        with zipfile.ZipFile(package_zip(arch)) as archive:
            for info in archive.infolist():  # as Lambda unpacks: with the modes of the zip
                target = task / info.filename
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(info))
                target.chmod((info.external_attr >> 16) & 0o7777)
        tmp = self.path / "tmp"
        tmp.mkdir()
        tmp.chmod(0o1777)
        etc = self.path / "etc"
        etc.mkdir()
        (etc / "hosts").write_text(f"127.0.0.1 localhost {AWS_NAME}\n")
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")  # never asked: hosts has all
        (etc / "nsswitch.conf").write_text("hosts: files dns\n")
        if ca_bundle is not None:  # Amazon Linux's place (provided.al2023)
            bundle = etc / "pki" / "tls" / "certs" / "ca-bundle.crt"
            bundle.parent.mkdir(parents=True)
            shutil.copyfile(ca_bundle, bundle)
        # Absolute: the function's PATH is Lambda's, not the test's.
        tools = {name: shutil.which(name) for name in ("unshare", "chroot")}
        for name, path in tools.items():
            if path is None:
                raise AssertionError(f"{name} not found (util-linux, coreutils)")
        self.command = [tools["unshare"], "--map-root-user", "--mount", "--pid", "--fork",
                        "--kill-child", tools["chroot"], str(self.path)]
        if arch == "arm64":
            # binfmt_misc with the F flag would open the emulator from the host; without it the
            # emulator binary (static) is put where such a registration would name it.
            (self.path / "usr" / "bin").mkdir(parents=True)
            shutil.copyfile(QEMU, self.path / QEMU.lstrip("/"))
            (self.path / QEMU.lstrip("/")).chmod(0o755)
            self.command.append(QEMU)
        self.command.append("/var/task/bootstrap")

    def files(self) -> set[str]:
        return {p.relative_to(self.path).as_posix() for p in self.path.rglob("*")}


class EmptyRootCase(unittest.TestCase):
    arch = ""

    @classmethod
    def setUpClass(cls):
        if not cls.arch:
            raise unittest.SkipTest("base class")
        package_zip(cls.arch)
        if cls.arch == "arm64" and not Path(QEMU).exists():
            raise AssertionError(f"{QEMU} is missing (make deps installs qemu-user-static)")
        if not loopback.fake_server_binary().exists():
            raise AssertionError(f"{loopback.fake_server_binary()} is not built")
        cls.work = Path(tempfile.mkdtemp(prefix="obsync-package-test-"))
        # moto takes the first label of a name with dots for a bucket (virtual-hosted S3) unless
        # told not to; the function addresses it path-style.
        cls.moto = loopback.MotoServer({"S3_IGNORE_SUBDOMAIN_BUCKETNAME": "true"})
        ca, cert, key = make_ca(cls.work, AWS_NAME)
        cls.ca = ca
        cls.proxy = TlsProxy(cls.moto.port, cert, key)

    @classmethod
    def tearDownClass(cls):
        cls.proxy.close()
        cls.moto.close()
        shutil.rmtree(cls.work, ignore_errors=True)

    def setUp(self):
        suffix = uuid.uuid4().hex[:10]
        self.bucket, self.table = f"obsync-pkg-{suffix}", f"obsync-pkg-state-{suffix}"
        self.secret_id = f"obsync/pkg-{suffix}"
        self.s3, self.ddb = self.moto.client("s3"), self.moto.client("dynamodb")
        self.s3.create_bucket(Bucket=self.bucket)
        loopback.create_state_table(self.moto, self.table)
        self.moto.client("secretsmanager").create_secret(
            Name=self.secret_id,
            SecretString=json.dumps({"email": EMAIL, "password": ACCOUNT_PASSWORD,
                                     "totp_secret": TOTP_SECRET,
                                     "vaults": {"Work": {"password": VAULT_PASSWORD}}}),
        )
        self.fake = loopback.FakeObsidian([f"{EMAIL}:{ACCOUNT_PASSWORD}:{TOTP_SECRET}"])
        self.addCleanup(self.fake.close)
        self.scratch = Path(tempfile.mkdtemp(prefix="obsync-package-case-", dir=self.work))

    def emulator(self, root: EmptyRoot) -> RuntimeEmulator:
        api_port = self.fake.api.rsplit(":", 1)[1]
        env = {
            **self.moto.aws_environment(),
            "AWS_ENDPOINT_URL": f"https://{AWS_NAME}:{self.proxy.port}",
            "OBSIDIAN_API_URL": f"http://localhost:{api_port}",
            "OBSYNC_SECRET_ID": self.secret_id,
            "STATE_TABLE_NAME": self.table,
            "S3_BUCKET": self.bucket,
            "S3_PREFIX": "backups",
            "LAMBDA_TASK_ROOT": "/var/task",
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "PATH": LAMBDA_PATH,
            "LD_LIBRARY_PATH": LAMBDA_LD_LIBRARY_PATH,
        }
        emu = RuntimeEmulator(root.command, env, function_timeout=120, init_timeout=60,
                              inherit_path=False, function_name="obsync-package-test")
        emu.start()
        self.addCleanup(emu.close)
        return emu

    @staticmethod
    def describe(result) -> str:
        tail = "\n".join(result.logs[-30:])
        return (f"kind={result.kind} error_type={result.error_type} "
                f"payload={json.dumps(result.payload)[:2000]}\n--- last log lines ---\n{tail}")

    def assert_mirrors(self, corpus: Path) -> None:
        expected = loopback.source_files(corpus)
        actual = loopback.bucket_files(self.s3, self.bucket, "backups/Work")
        self.assertEqual(sorted(actual), sorted(expected))
        for path, data in expected.items():
            self.assertEqual(actual[path], data, path)

    def test_serves_syncs_in_an_empty_root(self):
        corpus = make_corpus(self.scratch / "corpus", notes=4)
        self.fake.seed(EMAIL, "Work", VAULT_PASSWORD, corpus)
        vault_id = self.fake.vault_ids()["Work"]
        root = EmptyRoot(self.scratch, self.arch, self.ca)
        before = root.files()
        for folder in ("lib", "lib64", "usr/lib", "usr/lib64", "bin", "proc", "etc/ssl"):
            self.assertFalse((root.path / folder).exists(), folder)
        emu = self.emulator(root)
        self.assertNotIn("SSL_CERT_FILE", emu.environment())
        handshakes = self.proxy.handshakes

        result = emu.invoke({"vault_id": "Work", "sync_type": "complete"})
        self.assertEqual(result.kind, "response", self.describe(result))
        cold_start = emu.cold_start_s
        body = result.payload
        self.assertTrue(body["success"], self.describe(result))
        self.assertTrue(result.cold)
        [vault] = body["vaults"]
        self.assertEqual(vault["id"], vault_id)
        self.assertTrue(vault["complete"])
        self.assertEqual(vault["failed"], 0)
        self.assert_mirrors(corpus)
        items = loopback.table_items(self.ddb, self.table)
        self.assertTrue(any(i["item"]["S"].startswith("META#") for i in items), items[:3])
        self.assertGreaterEqual(len(loopback.committed_uids(items, vault_id)),
                                len(loopback.source_files(corpus)))
        self.assertGreater(self.proxy.handshakes, handshakes, "no TLS to aws.obsync.test")

        # An edit, a new file and a deletion on the server; the incremental run (warm).
        write(self.scratch / "new.md", "brand new")
        for args in (["--path", "new ü.md", "--content-file", str(self.scratch / "new.md")],
                     ["--path", "Hello.md", "--content-file", str(self.scratch / "new.md")],
                     ["--path", "Notes/n000.md", "--deleted"]):
            self.fake.admin("inject", "--vault", "Work", "--password", VAULT_PASSWORD, *args)
        write(corpus / "new ü.md", "brand new")
        write(corpus / "Hello.md", "brand new")
        (corpus / "Notes/n000.md").unlink()
        result = emu.invoke({"vault_id": vault_id})
        self.assertEqual(result.kind, "response", self.describe(result))
        self.assertFalse(result.cold)
        [vault] = result.payload["vaults"]
        self.assertEqual((vault["created"], vault["updated"], vault["deleted"]), (1, 1, 1), vault)
        self.assert_mirrors(corpus)
        self.assertEqual(emu.starts, 1)

        # The function wrote nothing into the root (not even /tmp).
        emu.close()
        self.assertEqual(root.files(), before)
        print(f"\n{self.arch}: cold start in the empty root {cold_start * 1000:.0f} ms "
              f"(exec to the first /next; zip {package_zip(self.arch).stat().st_size} bytes)",
              file=sys.stderr)

    def test_without_a_ca_bundle_tls_fails_and_says_where_it_looked(self):
        root = EmptyRoot(self.scratch, self.arch, None)
        emu = self.emulator(root)
        failed = self.proxy.failed_handshakes
        result = emu.invoke({"vault_id": "Work"}, timeout_s=60)
        text = json.dumps(result.payload) + "\n".join(result.logs)
        self.assertIn(result.kind, ("response", "error"), self.describe(result))
        self.assertIn("certificate verify failed", text, self.describe(result))
        self.assertIn("/etc/pki/tls/certs/ca-bundle.crt", text, self.describe(result))
        self.assertGreater(self.proxy.failed_handshakes, failed)


class EmptyRootX86_64Test(EmptyRootCase):
    arch = "x86_64"


class EmptyRootArm64Test(EmptyRootCase):
    arch = "arm64"


# ------------------------------------------------------------------------------ the zips


def readelf(*args: str) -> str:
    return subprocess.run(["readelf", *args], check=True, capture_output=True, text=True).stdout


class ReproducibleTest(unittest.TestCase):
    def setUp(self):
        self.work = Path(tempfile.mkdtemp(prefix="obsync-package-repro-"))
        self.addCleanup(shutil.rmtree, self.work, True)

    def check_zip(self, arch: str, path: Path) -> None:
        size = path.stat().st_size
        self.assertLessEqual(size, 8 * 1000 * 1000, f"{path.name}: {size} bytes")
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = [i.filename for i in infos]
            self.assertEqual(names, sorted(names), "entries not sorted")
            self.assertIn("bootstrap", names)
            self.assertIn("THIRD-PARTY-NOTICES", names)
            self.assertIn(f"lib/{LOADERS[arch]}", names)
            self.assertIn("lib/libc.so.6", names)
            for info in infos:
                self.assertEqual(info.date_time, (1980, 1, 1, 0, 0, 0), info.filename)
                self.assertEqual(info.extra, b"", info.filename)
                self.assertEqual(info.compress_type, zipfile.ZIP_DEFLATED, info.filename)
                mode = (info.external_attr >> 16) & 0o7777
                executable = info.filename == "bootstrap" or info.filename.startswith("lib/")
                self.assertEqual(mode, 0o755 if executable else 0o644, info.filename)
            archive.extractall(self.work / f"unpacked-{arch}")
        task = self.work / f"unpacked-{arch}"
        bootstrap = task / "bootstrap"
        program = readelf("-lW", str(bootstrap))
        self.assertIn(f"[Requesting program interpreter: /var/task/lib/{LOADERS[arch]}]", program)
        dynamic = readelf("-dW", str(bootstrap))
        self.assertIn("(RPATH)", dynamic)  # DT_RPATH: before LD_LIBRARY_PATH, unlike RUNPATH
        self.assertIn("[/var/task/lib]", dynamic)
        self.assertNotIn(".debug_info", readelf("-SW", str(bootstrap)), "bootstrap not stripped")
        libc_versions = set(re.findall(r"Name: (GLIBC_[0-9.]+)",
                                       readelf("-VW", str(task / "lib" / "libc.so.6"))))
        newest = max(libc_versions, key=lambda v: tuple(int(p) for p in v[6:].split(".")))
        self.assertEqual(newest, "GLIBC_2.36")  # Debian 12's glibc, bundled
        bundled = {p.name for p in (task / "lib").iterdir()}
        for obj in [bootstrap, *sorted((task / "lib").iterdir())]:
            for name in re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                                   readelf("-dW", str(obj))):
                self.assertIn(name, bundled, f"{obj.name} needs {name} from outside lib/")
            needs = readelf("-VW", str(obj)).split("Version needs section", 1)
            for version in re.findall(r"Name: (GLIBC_[0-9.]+)", needs[1] if len(needs) > 1 else ""):
                self.assertIn(version, libc_versions, f"{obj.name} needs {version}")
        # Only glibc is shared: OpenSSL, SQLite, utf8proc, Boost and libstdc++ are inside.
        self.assertLessEqual(
            bundled, {LOADERS[arch], "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2",
                      "librt.so.1"}, bundled)

    def test_zips_are_reproducible_and_self_contained(self):
        for arch in ("x86_64", "arm64"):
            with self.subTest(arch=arch):
                original = package_zip(arch)
                binary = package_binary(arch)
                self.assertTrue(binary.exists(), f"{binary}: run make build-lambda")
                again = self.work / f"again-{arch}.zip"
                subprocess.run([sys.executable, str(ROOT / "scripts" / "package_lambda.py"),
                                "--arch", arch, "--binary", str(binary), "--out", str(again)],
                               check=True, capture_output=True, timeout=300,
                               env={k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"})
                self.assertEqual(again.read_bytes(), original.read_bytes(),
                                 f"{arch}: the packager gave other bytes from the same binary")
                self.check_zip(arch, original)

    def package(self, arch: str, binary: Path, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / "scripts" / "package_lambda.py"),
                               "--arch", arch, "--binary", str(binary),
                               "--out", str(self.work / "refused.zip"), *extra],
                              capture_output=True, text=True, timeout=300)

    def test_packager_refuses_what_would_not_run_or_is_too_big(self):
        binary = package_binary("x86_64")
        self.assertTrue(binary.exists(), f"{binary}: run make build-lambda")
        # A NEEDED library that is nowhere.
        broken = self.work / "needs-missing"
        shutil.copyfile(binary, broken)
        subprocess.run(["patchelf", "--add-needed", "libobsync-nowhere.so.1", str(broken)],
                       check=True, capture_output=True, timeout=120)
        result = self.package("x86_64", broken)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("libobsync-nowhere.so.1 not found", result.stderr)
        # The wrong architecture.
        result = self.package("arm64", binary)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("not arm64", result.stderr)
        # Over the size limit.
        result = self.package("x86_64", binary, "--max-bytes", "1000000")
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("over the 1000000-byte limit", result.stderr)
        self.assertFalse((self.work / "refused.zip").exists())

    def test_closure_check_refuses_a_libc_without_the_needed_versions(self):
        # The packager's check on a staged x86_64 package whose libc.so.6 is swapped for one
        # that lacks the versions bootstrap needs (arm64's starts at GLIBC_2.17, x86_64's
        # bootstrap needs GLIBC_2.2.5 and up): what a libc older than the linked one would do.
        sys.path.insert(0, str(ROOT / "scripts"))
        import package_lambda

        stage = self.work / "stage"
        result = self.package("x86_64", package_binary("x86_64"),
                              "--keep-stage", str(stage))
        self.assertEqual(result.returncode, 0, result.stderr)
        package_lambda.check_closure(stage, package_lambda.ARCHS["x86_64"])  # as packaged: fine
        arm_libc = Path(package_lambda.find_library("libc.so.6",
                                                    package_lambda.ARCHS["arm64"]["libdirs"]))
        (stage / "lib" / "libc.so.6").unlink()
        shutil.copyfile(arm_libc, stage / "lib" / "libc.so.6")
        with self.assertRaisesRegex(package_lambda.PackageError,
                                    r"bootstrap needs .*GLIBC_2\.2\.5.* from libc\.so\.6"):
            package_lambda.check_closure(stage, package_lambda.ARCHS["x86_64"])


if __name__ == "__main__":
    unittest.main()
