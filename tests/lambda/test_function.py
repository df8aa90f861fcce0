"""Scenario tests of build/obsync-lambda against its contract (docs/lambda.md), on loopback:
our Runtime API emulator runs the function; moto_server serves S3, DynamoDB and Secrets Manager
(Secrets Manager through a counting proxy); obsync-fake-server serves the vaults.

Every test's tearDown checks every invocation it made: no secret in any log line or answer,
every log line a JSON object with the Powertools keys, every EMF line valid, one EMF record per
vault per invocation and ColdStart only on cold invocations.

Beyond the contract the tests assume: OBSYNC_LEASE_TTL (seconds) shortens the vault lease (the
freeze test), and the response's request_id is the Lambda request id.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import sys
import tempfile
import time
import unittest
import uuid
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import emf  # noqa: E402
import loopback  # noqa: E402
from runtime_emulator import InvocationResult, RuntimeEmulator  # noqa: E402

EVENTS = Path(__file__).resolve().parents[1] / "data" / "lambda-events"

EMAIL = "alice@example.com"
ACCOUNT_PASSWORD = "hunter2-account-SECRET-pw"  # no ':' (the fake server's --user syntax)
TOTP_SECRET = "OBSYNCTESTTOTPSECRETJBSWY3DPEHPK"
VAULT_PASSWORD = "correct horse vault SECRET"
VAULT_NAMES = ["Work", "Private", "Big", "Notes"]
NAMESPACE = "Obsync/Lambda"
VAULT_METRICS = {
    "SyncDuration": "Seconds",
    "FilesProcessed": "Count",
    "SyncSuccess": "Count",
    "BytesDownloaded": "Bytes",
    "FilesFailed": "Count",
}
# The queue's counts, dimension set [FunctionName] (docs/lambda.md, "Scale out").
QUEUE_METRICS = {"MessagesQueued", "PermanentFailures", "Continuations", "ContinuationStalled"}
POWERTOOLS_KEYS = ("timestamp", "level", "message", "service")
CONTEXT_KEYS = (
    "cold_start",
    "function_name",
    "function_memory_size",
    "function_arn",
    "function_request_id",
    "xray_trace_id",
)
TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR"}
RESPONSE_KEYS = {
    "success", "partial", "vaults_synced", "files_count", "duration", "duration_ms", "errors",
    "details", "vaults", "request_id",
}
VAULT_KEYS = {
    "id", "name", "destination", "ok", "complete", "stopped_early", "created", "updated",
    "deleted", "unchanged", "failed", "refused", "not_attempted", "bytes_downloaded",
    "duration_ms", "cursor", "failures",
}


def sample(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def apigw_v1(body, method: str = "POST", b64: bool = False) -> dict:
    event = sample("apigw-request.json")
    event["httpMethod"] = method
    event["requestContext"]["httpMethod"] = method
    text = body if isinstance(body, str) else json.dumps(body)
    if b64:
        event["body"], event["isBase64Encoded"] = base64.b64encode(text.encode()).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = text, False
    return event


def http_v2(body, method: str = "POST", b64: bool = False, sample_name="apigw-v2-request-no-authorizer.json") -> dict:
    event = sample(sample_name)
    event["requestContext"]["http"]["method"] = method
    text = body if isinstance(body, str) else json.dumps(body)
    if b64:
        event["body"], event["isBase64Encoded"] = base64.b64encode(text.encode()).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = text, False
    return event


def function_url(body, method: str = "POST", b64: bool = False) -> dict:
    return http_v2(body, method, b64, "lambda-urls-request.json")


def write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def make_corpus(folder: Path, notes: int = 5, size: int = 300) -> Path:
    write(folder / "Hello.md", "# Hello\n")
    write(folder / "Empty.md", "")
    write(folder / "Deep/er/note ünï 😀.md", "deep")
    write(folder / ".obsidian/app.json", "{}")
    write(folder / "Board.canvas", '{"nodes":[]}')
    write(folder / "Attachments/photo.png", os.urandom(70000))
    for i in range(notes):
        write(folder / f"Notes/n{i:03}.md", ("n%d " % i) * (size // 3))
    return folder


class LambdaCase(unittest.TestCase):
    """moto (+ a counting proxy for Secrets Manager) per class; per test a fake Obsidian server,
    a bucket, a state table, a secret and the emulators the test starts."""

    moto: loopback.MotoServer
    proxy: loopback.CountingProxy

    @classmethod
    def setUpClass(cls):
        for path, variable in ((loopback.lambda_binary(), "OBSYNC_LAMBDA_BINARY"),
                               (loopback.fake_server_binary(), "OBSYNC_FAKE_SERVER_BINARY")):
            if not path.exists():
                if os.environ.get(variable):  # named by CTest: it must be there
                    raise RuntimeError(f"{variable}={path} does not exist")
                raise unittest.SkipTest(f"{path} is not built")
        cls.moto = loopback.MotoServer()
        try:
            cls.proxy = loopback.CountingProxy(cls.moto.endpoint)
        except BaseException:
            cls.moto.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.proxy.close()
        cls.moto.close()

    def setUp(self):
        self.work = Path(tempfile.mkdtemp(prefix="obsync-lambda-test-"))
        self.addCleanup(shutil.rmtree, self.work, True)
        self.emulators: list[RuntimeEmulator] = []
        self.extra_secrets: list[str] = []
        self.fake: loopback.FakeObsidian | None = None
        suffix = uuid.uuid4().hex[:10]
        self.bucket = f"obsync-backups-{suffix}"
        self.table = f"obsync-state-{suffix}"
        self.secret_id = f"obsync/credentials-{suffix}"
        self.prefix = "backups"
        self.s3 = self.moto.client("s3")
        self.ddb = self.moto.client("dynamodb")
        self.s3.create_bucket(Bucket=self.bucket)
        loopback.create_state_table(self.moto, self.table)
        self.moto.client("secretsmanager").create_secret(
            Name=self.secret_id,
            SecretString=json.dumps(
                {
                    "email": EMAIL,
                    "password": ACCOUNT_PASSWORD,
                    "totp_secret": TOTP_SECRET,
                    "vaults": {name: {"password": VAULT_PASSWORD} for name in VAULT_NAMES},
                }
            ),
        )

    def tearDown(self):
        # Checks of every invocation of the test (cleanups close everything afterwards).
        secrets = [
            ACCOUNT_PASSWORD, TOTP_SECRET, VAULT_PASSWORD, loopback.TEST_SECRET_KEY,
            loopback.TEST_SESSION_TOKEN, *self.extra_secrets,
        ]
        if self.fake is not None:
            secrets += self.fake.tokens()
        for emu in self.emulators:
            for line in emu.all_logs:
                for secret in secrets:
                    self.assertNotIn(secret, line.text, f"a secret in a log line: {line.text[:300]}")
            for result in emu.results:
                for secret in secrets:
                    self.assertNotIn(secret.encode(), result.raw, f"a secret in an answer: {result.raw[:300]!r}")
                self.check_logs(emu, result)

    # ------------------------------------------------------------------ helpers

    def start_fake(self, *extra: str) -> loopback.FakeObsidian:
        self.fake = loopback.FakeObsidian([f"{EMAIL}:{ACCOUNT_PASSWORD}:{TOTP_SECRET}"], list(extra))
        self.addCleanup(self.fake.close)
        return self.fake

    def seed(self, name: str, notes: int = 5, size: int = 300) -> tuple[str, Path]:
        """Seeds a vault from a new corpus; returns (vault id, corpus folder)."""
        assert name in VAULT_NAMES, "the secret lists the vault passwords by name"
        corpus = make_corpus(self.work / "corpus" / name, notes, size)
        self.fake.seed(EMAIL, name, VAULT_PASSWORD, corpus)
        return self.fake.vault_ids()[name], corpus

    def environment(self, **overrides) -> dict[str, str]:
        env = {
            **self.moto.aws_environment(),
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.proxy.endpoint,
            "OBSIDIAN_API_URL": self.fake.api if self.fake else "http://127.0.0.1:9",
            "OBSYNC_SECRET_ID": self.secret_id,
            "STATE_TABLE_NAME": self.table,
            "S3_BUCKET": self.bucket,
            "S3_PREFIX": self.prefix,
            "OBSYNC_LOG_LEVEL": "DEBUG",
        }
        for key, value in overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def emulator(self, timeout: float = 60, **env_overrides) -> RuntimeEmulator:
        emu = RuntimeEmulator(
            [str(loopback.lambda_binary())],
            self.environment(**env_overrides),
            function_timeout=timeout,
            function_name="obsync-test",
            memory_mb=512,
            init_timeout=30,  # Lambda allows 10 s; the test machine is shared and slow
        )
        emu.start()
        self.addCleanup(emu.close)
        self.emulators.append(emu)
        return emu

    @staticmethod
    def body(result: InvocationResult):
        """The response body object, for direct and HTTP answers alike."""
        payload = result.payload
        if isinstance(payload, dict) and "statusCode" in payload:
            return json.loads(payload["body"])
        return payload

    def invoke_ok(self, emu: RuntimeEmulator, event, **kw) -> dict:
        result = emu.invoke(event, **kw)
        self.assertEqual(result.kind, "response", self.describe(result))
        body = self.body(result)
        self.assertTrue(body["success"], self.describe(result))
        return body

    @staticmethod
    def describe(result: InvocationResult) -> str:
        tail = "\n".join(result.logs[-30:])
        return (
            f"kind={result.kind} error_type={result.error_type} payload={json.dumps(result.payload)[:2000]}"
            f"\n--- last log lines ---\n{tail}"
        )

    def assert_bucket_mirrors(self, corpus: Path, key_prefix: str) -> None:
        expected = loopback.source_files(corpus)
        actual = loopback.bucket_files(self.s3, self.bucket, key_prefix)
        self.assertEqual(sorted(actual), sorted(expected), f"keys under {key_prefix}/")
        for path, data in expected.items():
            self.assertEqual(actual[path], data, path)

    def assert_refused(self, result: InvocationResult, status: int | None, kind: str | None = None) -> dict:
        """A request refused before any sync: the error shape (and statusCode for HTTP)."""
        self.assertEqual(result.kind, "response", self.describe(result))
        payload = result.payload
        if status is not None:
            self.assertEqual(payload.get("statusCode"), status, self.describe(result))
            self.assertEqual(payload.get("headers", {}).get("Content-Type"), "application/json")
            body = json.loads(payload["body"])
        else:
            self.assertNotIn("statusCode", payload, self.describe(result))
            body = payload
        self.assertIs(body["success"], False)
        self.assertIsInstance(body["error"], dict)
        self.assertTrue(body["error"]["message"].strip(), body)
        self.assertTrue(body["error"]["kind"].strip(), body)
        if kind is not None:
            self.assertEqual(body["error"]["kind"], kind, body)
        self.assertEqual(body["errors"], [body["error"]["message"]])
        self.assertEqual(body["request_id"], result.request_id)
        return body

    def assert_report_shape(self, result: InvocationResult, body: dict) -> None:
        self.assertLessEqual(RESPONSE_KEYS, set(body), body)
        self.assertIsInstance(body["duration"], (int, float))
        self.assertIsInstance(body["duration_ms"], int)
        self.assertEqual(body["request_id"], result.request_id)
        self.assertEqual(body["details"]["lambda_memory"], 512)
        self.assertEqual(body["details"]["dest_bucket"], self.bucket)
        for vault in body["vaults"]:
            self.assertLessEqual(VAULT_KEYS, set(vault), vault)
        self.assertEqual(body["vaults_synced"], sum(1 for v in body["vaults"] if v["ok"]))
        self.assertEqual(
            body["files_count"], sum(v["created"] + v["updated"] + v["deleted"] for v in body["vaults"])
        )

    def check_logs(self, emu: RuntimeEmulator, result: InvocationResult) -> None:
        """Every line a JSON object: Powertools keys, or a valid EMF record of ours."""
        vault_records = []
        drift_records = []
        cold_records = []
        for line in result.logs:
            try:
                doc = json.loads(line)
            except ValueError:
                self.fail(f"a log line that is not JSON: {line[:300]}")
            self.assertIsInstance(doc, dict, line[:300])
            if emf.is_emf(doc):
                self.assertEqual(emf.validate(line), [], line[:500])
                for directive in doc["_aws"]["CloudWatchMetrics"]:
                    self.assertEqual(directive["Namespace"], NAMESPACE)
                sets = emf.dimension_sets(doc)
                if "VaultID" in doc:
                    # Alarms watch the FunctionName set; the per-vault set is optional
                    # (OBSYNC_VAULT_METRICS=false drops it, docs/cost.md).
                    per_vault = emu.environment().get("OBSYNC_VAULT_METRICS", "true") != "false"
                    expected = [["FunctionName"]] + ([["VaultID", "FunctionName"]] if per_vault else [])
                    self.assertEqual(sets, expected, line)
                    if emf.metric_names(doc) == {"BackupDrift", "BackupDriftPending"}:  # verify
                        self.assertEqual(emf.units(doc), {"BackupDrift": "Count",
                                                          "BackupDriftPending": "Count"}, line)
                        drift_records.append(doc)
                    else:
                        self.assertEqual(emf.units(doc), VAULT_METRICS, line)
                        vault_records.append(doc)
                elif sets == [["FunctionName"]]:
                    names = emf.metric_names(doc)
                    self.assertEqual(len(names), 1, line)
                    self.assertLessEqual(names, {"ColdStart", *QUEUE_METRICS}, line)
                    self.assertEqual(emf.units(doc), {n: "Count" for n in names}, line)
                    if "ColdStart" in names:
                        self.assertEqual(doc["ColdStart"], 1)
                        cold_records.append(doc)
                    else:
                        self.assertGreaterEqual(doc[next(iter(names))], 1, line)
                else:
                    self.fail(f"an EMF record with unexpected dimensions: {line}")
                self.assertEqual(doc["FunctionName"], emu.function_name)
                continue
            for key in POWERTOOLS_KEYS:
                self.assertIn(key, doc, f"log line without {key}: {line[:300]}")
            self.assertRegex(doc["timestamp"], TIMESTAMP_RE)
            self.assertIn(doc["level"], LEVELS, line)
            self.assertIsInstance(doc["message"], str)
            self.assertEqual(doc["service"], "obsync")
            if "function_request_id" in doc:
                for key in CONTEXT_KEYS:
                    self.assertIn(key, doc, f"log line without {key}: {line[:300]}")
                self.assertEqual(doc["function_request_id"], result.request_id, line)
                self.assertEqual(doc["cold_start"], result.cold, line)
                self.assertEqual(doc["function_name"], emu.function_name)
                self.assertEqual(str(doc["function_memory_size"]), str(emu.memory_mb))
                self.assertEqual(doc["function_arn"], emu.function_arn)
                self.assertTrue(str(doc["xray_trace_id"]).startswith("Root=1-"), line)
        if result.kind not in ("response", "error"):
            return  # killed or never invoked: nothing more is promised
        self.assertTrue(
            any(json.loads(l).get("function_request_id") == result.request_id
                for l in result.logs if l.startswith("{") and not emf.is_emf(l)),
            "no log line of the invocation carries its request id",
        )
        self.assertEqual(len(cold_records), 1 if result.cold else 0, "ColdStart records")
        body = self.body(result) if result.kind == "response" else None
        if isinstance(body, dict) and body.get("action") == "verify":
            # One BackupDrift (and BackupDriftPending) per vault verified (none for a vault that
            # failed or was stopped early), no sync metrics.
            self.assertEqual(vault_records, [])
            verified = [v for v in body["vaults"]
                        if "error" not in v and not v.get("stopped_early")]
            self.assertEqual(sorted(d["VaultID"] for d in drift_records), sorted(v["id"] for v in verified))
            for vault in verified:
                record = next(d for d in drift_records if d["VaultID"] == vault["id"])
                self.assertEqual(record["BackupDrift"], vault["drift_count"])
                self.assertEqual(record["BackupDriftPending"], vault["pending"])
                self.assertLessEqual(record["BackupDriftPending"], record["BackupDrift"])
        elif isinstance(body, dict) and isinstance(body.get("vaults"), list):
            self.assertEqual(drift_records, [])
            self.assertEqual(
                sorted(d["VaultID"] for d in vault_records), sorted(v["id"] for v in body["vaults"]),
                "one EMF record per vault per invocation",
            )
            for vault in body["vaults"]:
                record = next(d for d in vault_records if d["VaultID"] == vault["id"])
                self.assertEqual(record["SyncSuccess"], 1 if vault["ok"] else 0)
                # "processed" may count more than the changes (the contract does not say).
                self.assertGreaterEqual(record["FilesProcessed"], vault["created"] + vault["updated"] + vault["deleted"])
                self.assertEqual(record["BytesDownloaded"], vault["bytes_downloaded"])
                self.assertEqual(record["FilesFailed"], vault["failed"])


# --------------------------------------------------------------------------- events


class EventShapesTest(LambdaCase):
    def test_sample_events_are_decoded_and_answered_in_their_shape(self):
        self.start_fake()
        vault_id, corpus = self.seed("Notes")
        emu = self.emulator()
        request = {"vault_id": "Notes", "sync_type": "complete"}

        # The samples as they come: REST v1 with an unknown field in its body → 400; HTTP API v2
        # with GET → 405; function URL with a body that is not JSON → 400.
        self.assert_refused(emu.invoke(sample("apigw-request.json")), 400)
        self.assert_refused(emu.invoke(sample("apigw-v2-request-no-authorizer.json")), 405)
        self.assert_refused(emu.invoke(sample("lambda-urls-request.json")), 400)

        # The same shapes carrying a sync request.
        for event in (apigw_v1(request), http_v2(request, b64=True), function_url(request)):
            result = emu.invoke(event)
            self.assertEqual(result.kind, "response", self.describe(result))
            self.assertEqual(result.payload["statusCode"], 200, self.describe(result))
            self.assertEqual(result.payload["headers"]["Content-Type"], "application/json")
            body = json.loads(result.payload["body"])
            self.assertTrue(body["success"], body)
            self.assert_report_shape(result, body)
            self.assertEqual([v["id"] for v in body["vaults"]], [vault_id])
            self.assertEqual(body["details"]["sync_type"], "complete")
        self.assert_bucket_mirrors(corpus, f"{self.prefix}/Notes")

        # The raw Scheduled Event: incremental, all vaults, answered as the body itself.
        result = emu.invoke(sample("scheduled-event.json"))
        self.assertEqual(result.kind, "response", self.describe(result))
        self.assertNotIn("statusCode", result.payload)
        self.assertTrue(result.payload["success"], self.describe(result))
        self.assert_report_shape(result, result.payload)
        self.assertEqual(result.payload["details"]["sync_type"], "incremental")
        self.assertEqual([v["id"] for v in result.payload["vaults"]], [vault_id])

        # The schedule's constant input is a direct invocation.
        result = emu.invoke({"sync_type": "incremental"})
        self.assertEqual(result.kind, "response", self.describe(result))
        self.assertTrue(result.payload["success"])
        self.assertEqual(result.payload["files_count"], 0)

        # An empty HTTP body is {} (all vaults, incremental).
        result = emu.invoke(apigw_v1(""))
        self.assertEqual(result.payload["statusCode"], 200, self.describe(result))

        # The SQS sample is a batch whose body is no work message: dropped for good (no dead-letter
        # queue is configured here), not a crash and not a retry.
        sqs = emu.invoke(sample("sqs-event.json"))
        self.assertEqual(sqs.kind, "response", self.describe(sqs))
        self.assertEqual(sqs.payload, {"batchItemFailures": []})
        self.assertTrue(any('"message failed for good"' in line and "MessageID_1" in line for line in sqs.logs))

        # Another batch source (SNS) is refused as a whole.
        sns = {"Records": [{"EventSource": "aws:sns", "eventSource": "aws:sns", "messageId": "x", "body": "{}"}]}
        body = self.assert_refused(emu.invoke(sns), None, "bad_input")
        self.assertRegex(body["error"]["message"], r"SQS")
        self.assertEqual(len({r.pid for r in emu.results}), 1, "the process changed")


# ----------------------------------------------------------------------------- sync


class SyncTest(LambdaCase):
    def test_one_vault_complete_then_incremental(self):
        self.start_fake()
        work_id, corpus = self.seed("Work")
        self.seed("Private")
        emu = self.emulator()

        result = emu.invoke({"vault_id": "Work", "sync_type": "complete"})
        self.assertEqual(result.kind, "response", self.describe(result))
        body = result.payload
        self.assertTrue(body["success"], self.describe(result))
        self.assertFalse(body["partial"])
        self.assert_report_shape(result, body)
        self.assertEqual(body["vaults_synced"], 1)
        [vault] = body["vaults"]
        self.assertEqual((vault["id"], vault["name"]), (work_id, "Work"))
        self.assertTrue(vault["ok"] and vault["complete"])
        self.assertGreaterEqual(vault["created"], len(loopback.source_files(corpus)))
        self.assertEqual(vault["failed"], 0)
        self.assertEqual(body["details"]["dest_prefix"], self.prefix)
        self.assert_bucket_mirrors(corpus, f"{self.prefix}/Work")
        self.assertEqual(loopback.bucket_files(self.s3, self.bucket, f"{self.prefix}/Private"), {})
        items = loopback.table_items(self.ddb, self.table)
        self.assertTrue(any(i["item"]["S"].startswith("META#") for i in items), items[:3])
        self.assertGreaterEqual(len(loopback.committed_uids(items)), len(loopback.source_files(corpus)))

        # A new file, an edit and a deletion on the server; the incremental run (vault by id).
        write(self.work / "new.md", "brand new")
        self.fake.admin("inject", "--vault", "Work", "--password", VAULT_PASSWORD,
                        "--path", "new ü.md", "--content-file", str(self.work / "new.md"))
        self.fake.admin("inject", "--vault", "Work", "--password", VAULT_PASSWORD,
                        "--path", "Hello.md", "--content-file", str(self.work / "new.md"))
        self.fake.admin("inject", "--vault", "Work", "--password", VAULT_PASSWORD,
                        "--path", "Notes/n000.md", "--deleted")
        write(corpus / "new ü.md", "brand new")
        write(corpus / "Hello.md", "brand new")
        (corpus / "Notes/n000.md").unlink()

        result = emu.invoke({"vault_id": work_id})
        self.assertEqual(result.kind, "response", self.describe(result))
        body = result.payload
        self.assertTrue(body["success"], self.describe(result))
        self.assertFalse(result.cold)
        self.assertEqual(body["details"]["sync_type"], "incremental")
        [vault] = body["vaults"]
        self.assertFalse(vault["complete"])
        self.assertEqual((vault["created"], vault["updated"], vault["deleted"]), (1, 1, 1), vault)
        self.assertEqual(body["files_count"], 3)
        self.assert_bucket_mirrors(corpus, f"{self.prefix}/Work")

    def test_all_vaults_complete_then_incremental(self):
        self.start_fake()
        ids = {}
        corpora = {}
        for name in ("Work", "Private"):
            ids[name], corpora[name] = self.seed(name, notes=3)
        emu = self.emulator()
        body = self.invoke_ok(emu, {"sync_type": "complete"})
        self.assertEqual(body["vaults_synced"], 2)
        self.assertEqual(sorted(v["id"] for v in body["vaults"]), sorted(ids.values()))
        for name in ids:
            self.assert_bucket_mirrors(corpora[name], f"{self.prefix}/{name}")
        items = loopback.table_items(self.ddb, self.table)
        for vid in ids.values():
            self.assertTrue(loopback.committed_uids(items, vid), f"no FILE state rows for {vid}")

        again = self.invoke_ok(emu, {})
        self.assertEqual(again["files_count"], 0)
        self.assertEqual(again["vaults_synced"], 2)
        for name in ids:
            self.assert_bucket_mirrors(corpora[name], f"{self.prefix}/{name}")

    def test_dest_prefix_replaces_s3_prefix(self):
        self.start_fake()
        _, corpus = self.seed("Work", notes=2)
        emu = self.emulator()
        body = self.invoke_ok(emu, {"vault_id": "Work", "dest_prefix": "elsewhere/deep"})
        self.assertEqual(body["details"]["dest_prefix"], "elsewhere/deep")
        self.assert_bucket_mirrors(corpus, "elsewhere/deep/Work")
        self.assertEqual(loopback.bucket_files(self.s3, self.bucket, self.prefix), {})


# ------------------------------------------------------------------------- deadline


class DeadlineTest(LambdaCase):
    FUNCTION_TIMEOUT = 5

    def test_partial_at_the_deadline_then_resumed_without_downloading_twice(self):
        self.start_fake("--latency-ms", "200")
        vault_id, corpus = self.seed("Big", notes=40)
        # One session: 40 pulls at 200 ms each take 8 s, whatever the default concurrency.
        emu = self.emulator(timeout=self.FUNCTION_TIMEOUT, OBSYNC_CONCURRENCY="1")
        committed: set[int] = set()
        partials = 0
        for attempt in range(12):
            self.fake.settle()
            mark = time.monotonic()
            result = emu.invoke({"vault_id": "Big"})
            self.assertEqual(result.kind, "response", f"invocation {attempt}: {self.describe(result)}")
            self.assertLess(result.duration, self.FUNCTION_TIMEOUT)
            body = result.payload
            self.assertTrue(body["success"], self.describe(result))
            self.fake.settle()
            pulled = self.fake.pulls(mark)
            again = sorted(set(pulled) & committed)
            self.assertEqual(again, [], f"invocation {attempt} pulled files committed before it")
            committed = loopback.committed_uids(loopback.table_items(self.ddb, self.table))
            [vault] = body["vaults"]
            if not body["partial"]:
                self.assertFalse(vault["stopped_early"])
                break
            partials += 1
            self.assertTrue(vault["stopped_early"], vault)
            self.assertTrue(vault["ok"], vault)
        else:
            self.fail("the vault never finished")
        self.assertGreaterEqual(partials, 1, "the first invocation was expected to stop at the deadline")
        self.assertEqual(emu.starts, 1, "the process was killed (a timeout) or crashed")
        self.assert_bucket_mirrors(corpus, f"{self.prefix}/Big")
        # The next one has nothing to do.
        body = self.invoke_ok(emu, {"vault_id": "Big"})
        self.assertEqual(body["files_count"], 0)
        self.assertFalse(body["partial"])


# -------------------------------------------------------------------------- overlap


class OverlapTest(LambdaCase):
    def _overlap(self, make_event):
        self.start_fake("--latency-ms", "100")
        vault_id, corpus = self.seed("Big", notes=40)
        # One session each: 40 pulls at 100 ms keep the winner busy for 4 s at least.
        first, second = self.emulator(OBSYNC_CONCURRENCY="1"), self.emulator(OBSYNC_CONCURRENCY="1")
        a = first.invoke_async(make_event({"vault_id": "Big"}))
        b = second.invoke_async(make_event({"vault_id": "Big"}))
        results = [a.wait(), b.wait()]
        self.assert_bucket_mirrors(corpus, f"{self.prefix}/Big")
        return (first, second), results, corpus

    def test_direct_invocations_one_syncs_the_other_is_busy(self):
        emus, results, corpus = self._overlap(lambda request: request)
        synced = [r for r in results if r.kind == "response" and r.payload.get("success")]
        busy = [r for r in results if r.kind == "error"]
        self.assertEqual(len(synced), 1, [self.describe(r) for r in results])
        self.assertEqual(len(busy), 1, [self.describe(r) for r in results])
        self.assertEqual(busy[0].error_type, "Obsync.Retryable.busy")
        self.assertEqual(busy[0].payload["errorType"], "Obsync.Retryable.busy")
        self.assertTrue(busy[0].payload["errorMessage"].strip())
        self.assertEqual(busy[0].payload.get("stackTrace"), [])
        # Nothing lost: the busy environment's retry finds everything done.
        loser = emus[results.index(busy[0])]
        body = self.invoke_ok(loser, {"vault_id": "Big"})
        self.assertEqual(body["files_count"], 0)

    def test_http_invocations_one_syncs_the_other_gets_409(self):
        emus, results, corpus = self._overlap(apigw_v1)
        statuses = sorted(r.payload["statusCode"] for r in results if r.kind == "response")
        self.assertEqual(statuses, [200, 409], [self.describe(r) for r in results])
        refused = next(r for r in results if r.payload["statusCode"] == 409)
        self.assert_refused(refused, 409)
        winner = next(r for r in results if r.payload["statusCode"] == 200)
        self.assertTrue(self.body(winner)["success"])


# --------------------------------------------------------------------------- freeze


class FreezeTest(LambdaCase):
    LEASE_TTL = 3  # OBSYNC_LEASE_TTL: an assumed test knob (seconds)

    def _freeze_a_run(self):
        """Two environments on a slow 40-file vault; the first one's complete sync is frozen once it
        pulls. Returns (corpus, frozen, other, the frozen invocation)."""
        self.start_fake("--latency-ms", "100")
        _, corpus = self.seed("Big", notes=40)
        ttl = str(self.LEASE_TTL)
        frozen = self.emulator(timeout=120, OBSYNC_LEASE_TTL=ttl, OBSYNC_CONCURRENCY="1")
        other = self.emulator(timeout=120, OBSYNC_LEASE_TTL=ttl, OBSYNC_CONCURRENCY="1")
        mark = time.monotonic()
        handle = frozen.invoke_async({"vault_id": "Big", "sync_type": "complete"})
        self._wait_for_pulls(mark, handle, "the first run")
        frozen.freeze()
        return corpus, frozen, other, handle

    def _wait_for_pulls(self, mark: float, handle, run: str) -> None:
        deadline = time.monotonic() + 30
        while len(self.fake.pulls(mark)) < 5:
            self.assertLess(time.monotonic(), deadline, f"{run} never started pulling")
            self.assertFalse(handle.done(), f"{run} ended too early")
            time.sleep(0.05)

    def test_a_frozen_run_cannot_commit_after_its_lease_expired(self):
        corpus, frozen, other, handle = self._freeze_a_run()
        try:
            time.sleep(self.LEASE_TTL * 2 + 1)
            body = self.invoke_ok(other, {"vault_id": "Big", "sync_type": "complete"})
            self.assertEqual(body["vaults_synced"], 1)
            state_after_second = loopback.table_items(self.ddb, self.table)
            bucket_after_second = loopback.bucket_files(self.s3, self.bucket, f"{self.prefix}/Big")
        finally:
            frozen.thaw()
        late = handle.wait(120)
        self.assertIn(late.kind, ("response", "error"), self.describe(late))
        if late.kind == "response":
            self.assertFalse(self.body(late)["success"], "the late run claims success: " + self.describe(late))
        self.assertEqual(loopback.table_items(self.ddb, self.table), state_after_second,
                         "the late run changed the state")
        self.assertEqual(loopback.bucket_files(self.s3, self.bucket, f"{self.prefix}/Big"), bucket_after_second)
        self.assert_bucket_mirrors(corpus, f"{self.prefix}/Big")

    def test_a_run_thawed_while_another_syncs_writes_nothing(self):
        """The issue's scenario exactly: the thaw comes while the second run is still syncing."""
        corpus, frozen, other, first = self._freeze_a_run()
        try:
            time.sleep(self.LEASE_TTL * 2 + 1)
            second_mark = time.monotonic()
            second = other.invoke_async({"vault_id": "Big", "sync_type": "complete"})
            self._wait_for_pulls(second_mark, second, "the second run")
        finally:
            frozen.thaw()
        late = first.wait(120)
        winner = second.wait(120)
        self.assertEqual(winner.kind, "response", self.describe(winner))
        self.assertTrue(self.body(winner)["success"], self.describe(winner))
        self.assertIn(late.kind, ("response", "error"), self.describe(late))
        if late.kind == "response":
            self.assertFalse(self.body(late)["success"], "the late run claims success: " + self.describe(late))
        else:
            self.assertEqual(late.error_type, "Obsync.Retryable.busy", self.describe(late))
        self.assert_bucket_mirrors(corpus, f"{self.prefix}/Big")
        # The state is the second run's and agrees with the bucket: an incremental run finds
        # nothing to do.
        body = self.invoke_ok(other, {"vault_id": "Big"})
        self.assertEqual(body["files_count"], 0, body)


# ----------------------------------------------------------------------- bad events


class BadEventsTest(LambdaCase):
    BIG_BODY = 6_000_000  # "6 MB": over the 1 MiB body limit, under Lambda's 6 MiB invoke limit

    def test_bad_direct_events_then_a_good_one(self):
        self.start_fake()
        _, corpus = self.seed("Work", notes=2)
        emu = self.emulator()
        self.extra_secrets += ["request-password-SECRET-77", "request-vault-SECRET-88"]
        cases = [
            (b"this is not JSON", "bad_input"),
            (b"[1, 2, 3]", "bad_input"),
            (b'"a string"', "bad_input"),
            (b"42", "bad_input"),
            (b"null", "bad_input"),
            ({"vault_id": 42}, None),
            ({"sync_type": ["complete"]}, None),
            ({"sync_type": "sometimes"}, None),
            ({"vault": "Work"}, None),  # an unknown field
            ({"dest_prefix": "../escape"}, None),
            ({"dest_prefix": "/absolute"}, None),
            ({"dest_prefix": "a//b"}, None),
            ({"dest_prefix": "a/\u0001/b"}, None),
            ({"password": "request-password-SECRET-77"}, None),
            ({"vault_password": "request-vault-SECRET-88", "vault_id": "Work"}, None),
            ({"dest_bucket": "somebody-elses-bucket"}, None),
            ({"vault_id": "No such vault"}, None),
        ]
        pid = None
        for event, kind in cases:
            result = emu.invoke(event)
            with self.subTest(event=str(event)[:80]):
                self.assert_refused(result, None, kind)
            pid = pid or result.pid
            self.assertEqual(result.pid, pid, "the process changed")
        body = self.invoke_ok(emu, {"vault_id": "Work"})
        self.assertEqual(emu.results[-1].pid, pid)
        self.assertEqual(emu.starts, 1)
        self.assert_bucket_mirrors(corpus, f"{self.prefix}/Work")
        self.assertEqual(body["vaults_synced"], 1)

    def test_bad_http_events_then_a_good_one(self):
        self.start_fake()
        _, corpus = self.seed("Work", notes=2)
        emu = self.emulator()
        self.extra_secrets += ["request-password-SECRET-99"]
        cases = [
            (apigw_v1("this is not JSON"), 400),
            (apigw_v1("[1, 2]"), 400),
            (apigw_v1({"vault_id": 42}), 400),
            (apigw_v1({"sync_type": "sometimes"}), 400),
            (apigw_v1({"dest_prefix": "x/../../y"}), 400),
            (apigw_v1({"password": "request-password-SECRET-99"}), 403),
            (apigw_v1({"dest_bucket": "somebody-elses-bucket"}), 403),
            (apigw_v1({"vault_id": "No such vault"}), 404),
            (apigw_v1({}, method="GET"), 405),
            (http_v2({}, method="PUT"), 405),
            (apigw_v1("{" + " " * self.BIG_BODY + "}"), 413),
            (function_url("x" * self.BIG_BODY, b64=False), 413),
            (apigw_v1("not base64 !!", b64=False) | {"isBase64Encoded": True}, 400),
        ]
        pid = None
        for event, status in cases:
            result = emu.invoke(event)
            with self.subTest(event=json.dumps(event)[:120], status=status):
                self.assert_refused(result, status)
            pid = pid or result.pid
            self.assertEqual(result.pid, pid, "the process changed")
        result = emu.invoke(apigw_v1({"vault_id": "Work"}))
        self.assertEqual(result.payload["statusCode"], 200, self.describe(result))
        self.assertEqual(result.pid, pid)
        self.assertEqual(emu.starts, 1)
        self.assert_bucket_mirrors(corpus, f"{self.prefix}/Work")


# ------------------------------------------------------------------- configuration


class BadConfigTest(LambdaCase):
    def test_bad_configuration_is_an_init_error_without_a_crash_loop(self):
        cases = {
            "S3_BUCKET": {"S3_BUCKET": None},
            "STATE_TABLE_NAME": {"STATE_TABLE_NAME": None},
            "OBSYNC_CONCURRENCY": {"OBSYNC_CONCURRENCY": "seventeen"},
            "OBSYNC_CONCURRENCY ": {"OBSYNC_CONCURRENCY": "17"},
            "OBSYNC_DEADLINE_MARGIN": {"OBSYNC_DEADLINE_MARGIN": "soon"},
        }
        for name, overrides in cases.items():
            with self.subTest(name=name):
                emu = self.emulator(**overrides)
                result = emu.invoke({})
                self.assertEqual(result.kind, "init_error", self.describe(result))
                self.assertEqual(result.error_type, "Obsync.ConfigError")
                self.assertEqual(result.payload["errorType"], "Obsync.ConfigError")
                self.assertIn(name.strip(), result.payload["errorMessage"])
                self.assertEqual(emu.wait_exit(10), 1, "the process did not exit(1) after init/error")
                self.assertEqual(emu.starts, 1)
                self.assertEqual(len(emu.init_errors), 1, "init/error posted more than once")
                time.sleep(0.3)
                self.assertEqual(emu.starts, 1)


class HandlerFaultTest(LambdaCase):
    """A bug in the handler: an exception is posted to /error and the same process serves the
    next invocation; a crash ends the process, and the next invocation gets a fresh one."""

    def test_an_exception_is_reported_and_the_loop_goes_on(self):
        self.start_fake()
        self.seed("Work", notes=2)
        emu = self.emulator(OBSYNC_LAMBDA_TEST_HOOKS="1")
        failed = emu.invoke({"obsync_test_fault": "exception"})
        self.assertEqual(failed.kind, "error", self.describe(failed))
        self.assertEqual(failed.error_type, "Obsync.InternalError")
        self.assertEqual(failed.payload["errorType"], "Obsync.InternalError")
        # The answer names the request; the exception's text is only in the (masked) log.
        self.assertIn(failed.request_id, failed.payload["errorMessage"])
        self.assertNotIn("test fault", failed.payload["errorMessage"])
        self.assertTrue(any("test fault" in line for line in failed.logs), failed.logs)
        good = emu.invoke({"vault_id": "Work"})
        self.assertEqual(good.kind, "response", self.describe(good))
        self.assertTrue(self.body(good)["success"])
        self.assertEqual(good.pid, failed.pid, "the process changed")
        self.assertFalse(good.cold)

    def test_a_crash_is_followed_by_a_cold_start_that_works(self):
        self.start_fake()
        self.seed("Work", notes=2)
        emu = self.emulator(OBSYNC_LAMBDA_TEST_HOOKS="1")
        crashed = emu.invoke({"obsync_test_fault": "abort"})
        self.assertEqual(crashed.kind, "crash", self.describe(crashed))
        good = emu.invoke({"vault_id": "Work"})
        self.assertEqual(good.kind, "response", self.describe(good))
        self.assertTrue(self.body(good)["success"])
        self.assertNotEqual(good.pid, crashed.pid)
        self.assertTrue(good.cold)

    def test_the_hook_is_off_unless_asked_for(self):
        self.start_fake()
        emu = self.emulator()
        result = emu.invoke({"obsync_test_fault": "abort"})
        self.assertEqual(result.kind, "response", self.describe(result))
        self.assertEqual(self.body(result)["error"]["kind"], "bad_input")  # an unknown field


# ---------------------------------------------------------------------- warm reuse


class WarmReuseTest(LambdaCase):
    def test_a_warm_invocation_signs_in_and_reads_the_secret_no_more(self):
        self.start_fake()
        _, corpus = self.seed("Work", notes=2)
        emu = self.emulator()
        secrets_before = self.proxy.count("secretsmanager.GetSecretValue")
        first = emu.invoke({"vault_id": "Work"})
        self.assertEqual(first.kind, "response", self.describe(first))
        self.assertTrue(first.cold)
        self.assertEqual(self.fake.signins(), 1)
        self.assertEqual(self.proxy.count("secretsmanager.GetSecretValue") - secrets_before, 1)

        write(self.work / "new.md", "later")
        self.fake.admin("inject", "--vault", "Work", "--password", VAULT_PASSWORD,
                        "--path", "Later.md", "--content-file", str(self.work / "new.md"))
        second = emu.invoke({"vault_id": "Work"})
        self.assertEqual(second.kind, "response", self.describe(second))
        self.assertFalse(second.cold)
        self.assertEqual(second.pid, first.pid)
        self.assertEqual(second.payload["files_count"], 1)
        self.assertEqual(self.fake.signins(), 1, "the warm invocation signed in again")
        self.assertEqual(self.proxy.count("secretsmanager.GetSecretValue") - secrets_before, 1,
                         "the warm invocation read the secret again")
        write(corpus / "Later.md", "later")
        self.assert_bucket_mirrors(corpus, f"{self.prefix}/Work")


# ---------------------------------------------------------------- secrets, logs, metrics


class SecretsTest(LambdaCase):
    def test_request_credentials_and_failures_never_show_a_secret(self):
        self.start_fake()
        self.seed("Work", notes=2)
        wrong = "wrong-vault-password-SECRET-42"
        self.extra_secrets.append(wrong)
        emu = self.emulator(ALLOW_REQUEST_CREDENTIALS="true")
        # Credentials in the request (allowed here), a wrong vault password: a permanent failure
        # whose messages must not carry the password.
        result = emu.invoke({"vault_id": "Work", "email": EMAIL, "password": ACCOUNT_PASSWORD,
                             "totp_secret": TOTP_SECRET, "vault_password": wrong})
        self.assertEqual(result.kind, "response", self.describe(result))
        self.assertFalse(result.payload["success"])
        self.assertTrue(result.payload["errors"])
        # A wrong account password.
        result = emu.invoke({"vault_id": "Work", "email": EMAIL, "password": wrong,
                             "totp_secret": TOTP_SECRET, "vault_password": VAULT_PASSWORD})
        self.assertEqual(result.kind, "response", self.describe(result))
        self.assertFalse(self.body(result)["success"])
        # And right ones.
        body = self.invoke_ok(emu, {"vault_id": "Work", "email": EMAIL, "password": ACCOUNT_PASSWORD,
                                    "totp_secret": TOTP_SECRET, "vault_password": VAULT_PASSWORD})
        self.assertEqual(body["vaults_synced"], 1)
        # tearDown checks every log line and answer for every secret, the session token included.


class LogsAndMetricsTest(LambdaCase):
    def test_one_emf_record_per_vault_and_cold_start_once(self):
        self.start_fake()
        ids = [self.seed(name, notes=2)[0] for name in ("Work", "Private")]
        emu = self.emulator()
        for expected_cold in (True, False):
            result = emu.invoke({})
            self.assertEqual(result.kind, "response", self.describe(result))
            self.assertEqual(result.cold, expected_cold)
            docs = emf.emf_documents(result.logs)
            vault_docs = [d for d in docs if "VaultID" in d]
            cold_docs = [d for d in docs if "ColdStart" in d]
            self.assertEqual(sorted(d["VaultID"] for d in vault_docs), sorted(ids))
            self.assertEqual(len(cold_docs), 1 if expected_cold else 0)
            for doc in docs:
                self.assertEqual(emf.validate(doc), [])
            plain = [json.loads(l) for l in result.logs if not emf.is_emf(l)]
            self.assertTrue(plain, "no log lines")
            with_context = [d for d in plain if d.get("function_request_id") == result.request_id]
            self.assertTrue(with_context)
            self.assertEqual({d["cold_start"] for d in with_context}, {expected_cold})
        # tearDown validates every line of both invocations in detail.

    def test_vault_metrics_off_keeps_only_the_function_dimension_set(self):
        self.start_fake()
        vault_id = self.seed("Work", notes=2)[0]
        emu = self.emulator(OBSYNC_VAULT_METRICS="false")
        result = emu.invoke({})
        self.assertEqual(result.kind, "response", self.describe(result))
        vault_docs = [d for d in emf.emf_documents(result.logs) if "VaultID" in d]
        self.assertEqual(len(vault_docs), 1)
        self.assertEqual(emf.dimension_sets(vault_docs[0]), [["FunctionName"]])
        # The vault stays findable in Logs Insights: a member of the record, not a dimension.
        self.assertEqual(vault_docs[0]["VaultID"], vault_id)
        self.assertEqual(vault_docs[0]["SyncSuccess"], 1)


if __name__ == "__main__":
    unittest.main()
