"""Scale out through SQS (docs/lambda.md, "Scale out"), on loopback: moto's SQS, S3, DynamoDB and
Secrets Manager; obsync-fake-server with several accounts; our Runtime API emulator as the
execution environments and esm_driver.EventSourceMapping doing what Lambda's event source mapping
does (receive, invoke with an SQS event, delete what succeeded, leave the rest to the visibility
timeout, redrive to the dead-letter queue).

Every test also runs LambdaCase's checks of every invocation (no secret in a log line or an
answer, every log line JSON with the Powertools keys, every EMF record valid).
"""

from __future__ import annotations

import datetime
import json
import os
import random
import sys
import time
import unittest
import uuid
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import esm_driver  # noqa: E402
import loopback  # noqa: E402
from test_function import (  # noqa: E402
    ACCOUNT_PASSWORD, EMAIL, TOTP_SECRET, VAULT_PASSWORD, LambdaCase, apigw_v1, make_corpus, sample,
)

OTHERS = {  # account folder -> (email, password); TOTP as the own account's
    "bob": ("bob@example.com", "bob-account-SECRET-pw"),
    "carol": ("carol@example.com", "carol-account-SECRET-pw"),
}
WRONG_VAULT_PASSWORD = "not the vault password SECRET"


def log_time(doc: dict) -> float:
    """A log record's own time (its "timestamp", ms, the system clock every process shares), as
    seconds since the epoch: unlike the time a line was read, it does not depend on how soon the
    test's reader thread got to it."""
    stamp = datetime.datetime.strptime(doc["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
    return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()


def vault_runs(emulators, mapping=None) -> dict[str, list[tuple[float, float]]]:
    """vault id -> [(start, end)] of every time a run held it, from the engine's DEBUG lines
    "vault claimed" (logged once the destination's lock and the state's lease are both taken) and
    "vault releasing" (logged before either is released), at their own times. A run whose
    process was killed holds it until the kill (the ESM's end of that invocation)."""
    to_wall = time.time() - time.monotonic()
    runs: dict[str, list] = defaultdict(list)
    for index, emu in enumerate(emulators):
        kills = sorted(i.ended_at + to_wall for i in (mapping.invocations if mapping else [])
                       if i.worker == index and i.kind != "response")
        open_runs: dict[str, float] = {}
        for line in emu.all_logs:
            if not line.text.startswith("{"):
                continue
            doc = json.loads(line.text)
            message = doc.get("message")
            if message == "vault claimed":
                open_runs[doc["vault_id"]] = log_time(doc)
            elif message == "vault releasing" and doc["vault_id"] in open_runs:
                runs[doc["vault_id"]].append((open_runs.pop(doc["vault_id"]), log_time(doc)))
        for vault_id, start in open_runs.items():
            runs[vault_id].append((start, next((k for k in kills if k > start), float("inf"))))
    return runs


def vault_destinations(emulators) -> dict[str, set[str]]:
    """vault id -> the destinations its finished runs wrote to."""
    out: dict[str, set[str]] = defaultdict(set)
    for emu in emulators:
        for line in emu.all_logs:
            if line.text.startswith("{") and '"vault sync' in line.text:
                doc = json.loads(line.text)
                if doc.get("destination"):
                    out[doc["vault_id"]].add(doc["destination"])
    return out


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    peak = now = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


class QueueCase(LambdaCase):
    """A work queue and its DLQ per test, accounts under a prefix of the test's own."""

    FUNCTION_TIMEOUT = 20.0

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The functions' DynamoDB calls one at a time (loopback.CountingProxy: moto's conditional
        # writes are not atomic against concurrent ones; DynamoDB's are).
        cls.dynamodb = loopback.CountingProxy(cls.moto.endpoint, serialize=True)

    @classmethod
    def tearDownClass(cls):
        cls.dynamodb.close()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.sqs = self.moto.client("sqs")
        self.queue = esm_driver.create_queue_pair(
            self.sqs, visibility_timeout=int(self.FUNCTION_TIMEOUT) + 2, max_receive_count=5)
        self.account_prefix = f"obsync/accounts-{uuid.uuid4().hex[:8]}/"
        self.vault_names: dict[str, list[str]] = defaultdict(list)  # account -> names
        self.corpora: dict[tuple[str, str], object] = {}

    def start_accounts(self, *extra: str, accounts=("own", "bob", "carol")) -> None:
        users = [f"{EMAIL}:{ACCOUNT_PASSWORD}:{TOTP_SECRET}"]
        users += [f"{email}:{password}:{TOTP_SECRET}" for name, (email, password) in OTHERS.items()
                  if name in accounts]
        self.fake = loopback.FakeObsidian(users, list(extra))
        self.addCleanup(self.fake.close)
        self.extra_secrets += [password for _, password in OTHERS.values()]
        self.extra_secrets.append(WRONG_VAULT_PASSWORD)

    def seed_vault(self, account: str, name: str, notes: int = 4, size: int = 200) -> str:
        email = EMAIL if account == "own" else OTHERS[account][0]
        corpus = make_corpus(self.work / "corpus" / account / name, notes, size)
        self.fake.seed(email, name, VAULT_PASSWORD, corpus)
        self.vault_names[account].append(name)
        self.corpora[(account, name)] = corpus
        return name

    def write_secrets(self, wrong: set[str] = frozenset()) -> None:
        """The own secret and one per other account seeded, every vault's password (a wrong one
        for the names in `wrong`)."""
        secrets = self.moto.client("secretsmanager")

        def document(email, password, names):
            return json.dumps({
                "email": email, "password": password, "totp_secret": TOTP_SECRET,
                "vaults": {n: {"password": WRONG_VAULT_PASSWORD if n in wrong else VAULT_PASSWORD}
                           for n in names},
            })

        secrets.put_secret_value(SecretId=self.secret_id, SecretString=document(
            EMAIL, ACCOUNT_PASSWORD, self.vault_names["own"]))
        for account, (email, password) in OTHERS.items():
            if self.vault_names.get(account):
                secrets.create_secret(Name=self.account_prefix + account,
                                      SecretString=document(email, password, self.vault_names[account]))

    def queue_environment(self, **overrides) -> dict:
        env = {
            "OBSYNC_QUEUE_URL": self.queue.url,
            "OBSYNC_DEAD_LETTER_QUEUE_URL": self.queue.dlq_url,
            "ALLOWED_SECRET_PREFIX": self.account_prefix,
            "OBSYNC_RETRY_DELAY": "1",
            "OBSYNC_LEASE_TTL": "3",
            "OBSYNC_LOG_LEVEL": "DEBUG",  # "vault claimed" / "vault releasing"
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb.endpoint,
        }
        env.update(overrides)
        return env

    def workers(self, n: int, **overrides):
        return [self.emulator(self.FUNCTION_TIMEOUT, **self.queue_environment(**overrides))
                for _ in range(n)]

    def esm(self, workers, **kw) -> esm_driver.EventSourceMapping:
        mapping = esm_driver.EventSourceMapping(self.sqs, self.queue.url, self.queue.arn, workers, **kw)
        self.addCleanup(mapping.stop, 60)
        return mapping

    def drain(self, workers, timeout: float, **kw) -> esm_driver.EventSourceMapping:
        """An event source mapping over `workers` until the queue is empty; its loop never failed."""
        mapping = self.esm(workers, **kw)
        mapping.start()
        mapping.wait_until_drained(timeout)
        mapping.stop(60)
        self.assertEqual(mapping.errors, [], "the ESM driver's own loop failed")
        return mapping

    def key_prefix(self, account: str, name: str) -> str:
        return f"{self.prefix}/{name}" if account == "own" else f"{self.prefix}/{account}/{name}"

    def assert_all_backed_up(self) -> None:
        for (account, name), corpus in self.corpora.items():
            self.assert_bucket_mirrors(corpus, self.key_prefix(account, name))

    def assert_no_vault_ran_twice_at_once(self, emulators, mapping=None) -> dict:
        runs = vault_runs(emulators, mapping)
        for vault_id, intervals in runs.items():
            self.assertEqual(most_at_once(intervals), 1,
                             f"vault {vault_id} ran twice at once: {intervals}")
        return runs

    def dlq_bodies(self) -> list[dict]:
        return [json.loads(m["Body"]) for m in esm_driver.receive_all(self.sqs, self.queue.dlq_url)]


class ScaleOutTest(QueueCase):
    def test_twenty_vaults_over_three_accounts_with_four_workers(self):
        self.start_accounts("--latency-ms", "20")
        for account, count in (("own", 8), ("bob", 6), ("carol", 6)):
            for i in range(count):
                self.seed_vault(account, f"{account.capitalize()} {i:02}")
        self.write_secrets()
        workers = self.workers(4, OBSYNC_ACCOUNT_CONCURRENCY="2")

        # The schedule's event dispatches: the own account's 8 vaults, one message per other
        # account (whose worker queues that account's vaults).
        result = workers[0].invoke(sample("scheduled-event.json"))
        self.assertEqual(result.kind, "response", self.describe(result))
        body = result.payload
        self.assertTrue(body["success"], body)
        self.assertTrue(body["dispatched"])
        self.assertEqual(body["vaults_queued"], 8)
        self.assertEqual(body["accounts_queued"], 2)
        self.assertEqual(sorted(q["name"] for q in body["queued"] if "name" in q),
                         sorted(self.vault_names["own"]))
        self.assertEqual(sorted(q["account"] for q in body["queued"] if "secret_id" in q),
                         ["bob", "carol"])
        self.assertTrue(any('"MessagesQueued"' in l for l in result.logs))
        self.assertEqual(self.fake.pulls(), [], "a dispatch downloads nothing")

        mapping = self.drain(workers, 240)

        self.assert_all_backed_up()
        runs = self.assert_no_vault_ran_twice_at_once(workers, mapping)
        self.assertEqual(len(runs), 20)
        self.assertLessEqual(mapping.peak_running, 4)
        # At most OBSYNC_ACCOUNT_CONCURRENCY=2 vaults of one account at once.
        destinations = vault_destinations(workers)
        by_account = defaultdict(list)
        for vault_id, intervals in runs.items():
            (destination,) = destinations[vault_id]
            rest = destination.split(f"/{self.prefix}/", 1)[1]
            account = rest.split("/")[0] if rest.count("/") else "own"
            by_account[account].extend(intervals)
        self.assertEqual(set(by_account), {"own", "bob", "carol"})
        for account, intervals in by_account.items():
            self.assertLessEqual(most_at_once(intervals), 2, f"account {account}: {sorted(intervals)}")
        # ... and the limit was met: some message waited for a slot of its account.
        waits = [json.loads(l.text) for emu in workers for l in emu.all_logs
                 if '"message waits"' in l.text]
        self.assertTrue(any("slot(s) are all taken" in w["why"] for w in waits), waits)
        self.assertEqual(self.dlq_bodies(), [])
        # Each vault's state is its own, under its account's destination.
        items = loopback.table_items(self.ddb, self.table)
        metas = {i["item"]["S"] for i in items if i["item"]["S"].startswith("META#")}
        self.assertEqual(len(metas), 20, metas)
        self.assertTrue(any(f"/{self.prefix}/bob/" in m for m in metas), metas)

        # The next round is incremental and downloads nothing.
        mark = time.monotonic()
        result = workers[1].invoke({"sync_type": "incremental"})
        self.assertEqual(result.payload["vaults_queued"], 8, self.describe(result))
        mapping = self.drain(workers, 240)
        self.assertEqual(self.fake.pulls(mark), [])

    def test_a_named_account_and_inline_requests(self):
        self.start_accounts(accounts=("own", "bob"))
        self.seed_vault("bob", "Bob A")
        self.seed_vault("bob", "Bob B")
        self.seed_vault("own", "Own A")
        self.write_secrets()
        (worker,) = self.workers(1)
        bob = self.account_prefix + "bob"

        # secret_id + a dispatch: that account's vaults only.
        result = worker.invoke({"secret_id": bob})
        self.assertEqual(result.payload["vaults_queued"], 2, self.describe(result))
        self.assertEqual({q["account"] for q in result.payload["queued"]}, {"bob"})
        esm_driver.receive_all(self.sqs, self.queue.url, delete=True)

        # dispatch:false syncs inline; a vault named syncs inline.
        body = self.invoke_ok(worker, {"secret_id": bob, "dispatch": False})
        self.assertEqual(sorted(v["name"] for v in body["vaults"]), ["Bob A", "Bob B"])
        self.assert_bucket_mirrors(self.corpora[("bob", "Bob A")], f"{self.prefix}/bob/Bob A")
        body = self.invoke_ok(worker, {"vault_id": "Own A"})
        self.assert_bucket_mirrors(self.corpora[("own", "Own A")], f"{self.prefix}/Own A")
        self.assertEqual(esm_driver.queue_counts(self.sqs, self.queue.url)["visible"], 0)

        # "dispatch": true with a vault named is a contradiction, refused.
        self.assert_refused(worker.invoke({"dispatch": True, "vault_id": "Own A"}), None, "bad_input")
        # An SQS envelope that cannot be read fails the invocation, so that the event source
        # mapping keeps its messages (an answer would have them deleted).
        broken = worker.invoke({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]})
        self.assertEqual(broken.kind, "error", self.describe(broken))
        self.assertEqual(broken.error_type, "Obsync.BadSqsEvent")

        # A secret outside the prefix, or nested below it, is refused before anything runs.
        for secret_id in (self.secret_id + "-other", self.account_prefix + "team/bob"):
            result = worker.invoke({"secret_id": secret_id, "dispatch": False})
            self.assert_refused(result, None, "bad_input")
        result = worker.invoke(apigw_v1(
            {"secret_id": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"}))
        self.assert_refused(result, 403, "bad_input")


    def test_an_account_whose_folder_is_an_own_vaults_is_not_dispatched(self):
        self.start_accounts(accounts=("own", "bob"))
        self.seed_vault("own", "bob")  # <prefix>/bob/ is this vault's folder
        self.seed_vault("bob", "Bob A")
        self.write_secrets()
        (worker,) = self.workers(1)
        result = worker.invoke({})
        self.assertEqual(result.kind, "response", self.describe(result))
        body = result.payload
        self.assertFalse(body["success"])
        self.assertEqual((body["vaults_queued"], body["accounts_queued"]), (1, 0))
        self.assertEqual(len(body["errors"]), 1, body)
        self.assertIn("rename the secret", body["errors"][0])
        self.assertTrue(any('"PermanentFailures"' in l for l in result.logs))


class ContinuationTest(QueueCase):
    FUNCTION_TIMEOUT = 5.0
    MARGIN = "1.5"  # OBSYNC_DEADLINE_MARGIN: time kept for the checkpoint and the continuation

    def test_a_big_vault_completes_by_continuation_alone(self):
        self.start_accounts("--pull-latency-ms", "100", accounts=("own",))
        self.seed_vault("own", "Big", notes=100, size=120)
        self.write_secrets()
        workers = self.workers(2, OBSYNC_CONCURRENCY="1", OBSYNC_DEADLINE_MARGIN=self.MARGIN)
        result = workers[0].invoke({"sync_type": "complete"})
        self.assertEqual(result.payload["vaults_queued"], 1, self.describe(result))

        mapping = self.drain(workers, 300)
        self.assert_all_backed_up()
        self.assert_no_vault_ran_twice_at_once(workers, mapping)

        invocations = sorted(mapping.invocations, key=lambda i: i.started_at)
        bodies = [json.loads(i.bodies[0]) for i in invocations]
        self.assertGreaterEqual(len(invocations), 4, "the vault was expected to need several invocations")
        self.assertEqual([b.get("continuation", 0) for b in bodies], list(range(len(bodies))))
        self.assertTrue(all(b["sync_type"] == "complete" for b in bodies), bodies)
        # Every invocation answered in time (none was killed at its timeout) and was deleted.
        self.assertTrue(all(i.kind == "response" and i.failed_ids == [] for i in invocations),
                        [self.describe(i.result) for i in invocations if i.kind != "response"])
        continuations = sum(1 for emu in workers for line in emu.all_logs
                            if '"Continuations"' in line.text and '"_aws"' in line.text)
        self.assertEqual(continuations, len(invocations) - 1)
        # Nothing committed is downloaded again: a uid is pulled twice only when a pull was cut
        # at an invocation's deadline (one session: at most one per invocation).
        pulls = self.fake.pulls()
        repeats = len(pulls) - len(set(pulls))
        self.assertLessEqual(repeats, len(invocations) - 1, pulls)

    def test_a_continuation_without_progress_stops_after_three(self):
        # Every pull outlasts an invocation: each run is cut at its deadline with nothing new.
        self.start_accounts("--pull-latency-ms", "20000", accounts=("own",))
        flat = self.work / "corpus" / "Stuck"
        for i in range(3):
            flat.mkdir(parents=True, exist_ok=True)
            (flat / f"note {i}.md").write_text(f"note {i}")
        self.fake.seed(EMAIL, "Stuck", VAULT_PASSWORD, flat)
        self.vault_names["own"].append("Stuck")
        self.write_secrets()
        workers = self.workers(1, OBSYNC_CONCURRENCY="1", OBSYNC_DEADLINE_MARGIN=self.MARGIN)
        self.sqs.send_message(QueueUrl=self.queue.url,
                              MessageBody=json.dumps({"vault_id": "Stuck", "continuation": 5}))
        mapping = self.drain(workers, 120)
        bodies = [json.loads(i.bodies[0]) for i in sorted(mapping.invocations, key=lambda i: i.started_at)]
        self.assertEqual([b.get("stalls", 0) for b in bodies], [0, 1, 2], bodies)
        self.assertEqual([b.get("continuation") for b in bodies], [5, 6, 7], bodies)
        self.assertTrue(all(i.kind == "response" and i.failed_ids == [] for i in mapping.invocations))
        stalled = [l for l in workers[0].all_logs if '"ContinuationStalled"' in l.text and '"_aws"' in l.text]
        self.assertEqual(len(stalled), 1)
        self.assertEqual(self.dlq_bodies(), [])


    def test_a_batch_leaves_what_it_cannot_start_to_wait(self):
        self.start_accounts("--pull-latency-ms", "100", accounts=("own",))
        for name in ("Slow 1", "Slow 2", "Slow 3"):
            self.seed_vault("own", name, notes=40, size=120)
        self.write_secrets()
        workers = self.workers(1, OBSYNC_CONCURRENCY="1", OBSYNC_DEADLINE_MARGIN=self.MARGIN)
        self.assertEqual(workers[0].invoke({}).payload["vaults_queued"], 3)
        mapping = self.drain(workers, 300, batch_size=3)
        self.assert_all_backed_up()
        self.assertTrue(any(len(i.message_ids) > 1 for i in mapping.invocations),
                        "no batch of more than one message was received")
        waits = [json.loads(l.text) for l in workers[0].all_logs if '"message waits"' in l.text]
        self.assertTrue(any("time was up" in w["why"] for w in waits), waits)
        # Nothing was listed: waiting and continuing are new messages, so no receive count grew.
        self.assertTrue(all(i.kind == "response" and not i.failed_ids for i in mapping.invocations))
        self.assertEqual(max(r for i in mapping.invocations for r in i.receive_counts), 1)
        self.assertEqual(self.dlq_bodies(), [])


class QueueFaultsTest(QueueCase):
    FUNCTION_TIMEOUT = 8.0

    def test_duplicated_and_reordered_messages_are_harmless(self):
        self.start_accounts("--latency-ms", "30", accounts=("own",))
        for i in range(5):
            self.seed_vault("own", f"Dup {i}", notes=8)
        self.write_secrets()
        workers = self.workers(3)
        ids = self.fake.vault_ids()
        bodies = [json.dumps({"obsync": 1, "vault_id": ids[n], "sync_type": "incremental"})
                  for n in self.vault_names["own"]]
        copies = bodies * 3
        random.Random(7).shuffle(copies)
        for body in copies:
            self.sqs.send_message(QueueUrl=self.queue.url, MessageBody=body)
        mapping = self.drain(workers, 240)
        self.assert_all_backed_up()
        self.assert_no_vault_ran_twice_at_once(workers, mapping)
        self.assertEqual(self.dlq_bodies(), [])
        # Each file was downloaded once: the copies after the first found it committed (uids are
        # per vault, so the count is what tells).
        files = sum(len(loopback.source_files(c)) for c in self.corpora.values())
        self.assertEqual(len(self.fake.pulls()), files)
        # A copy that met the lease (busy) waited: sent again with a delay and deleted, so its
        # receive count never grows toward the DLQ; the others found nothing left to do.
        waited = [l for emu in workers for l in emu.all_logs if '"fate":"wait"' in l.text]
        self.assertTrue(all(i.kind == "response" and not i.failed_ids for i in mapping.invocations),
                        "every invocation answered and every message was deleted")
        self.assertEqual(len(mapping.invocations), len(copies) + len(waited))
        self.assertEqual(max(r for i in mapping.invocations for r in i.receive_counts), 1)

    def test_a_worker_killed_mid_vault_is_finished_by_another(self):
        self.start_accounts("--pull-latency-ms", "150", accounts=("own",))
        self.seed_vault("own", "Killed", notes=30)
        self.write_secrets()
        workers = self.workers(2, OBSYNC_CONCURRENCY="1")
        self.assertEqual(workers[0].invoke({}).payload["vaults_queued"], 1)
        mapping = self.esm(workers)
        mapping.start()
        # Kill the worker once it holds the vault and has committed a few files.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(self.fake.pulls()) < 8:
            time.sleep(0.05)
        self.assertGreaterEqual(len(self.fake.pulls()), 8, "the sync did not get going")
        killed = mapping.kill_in_flight(timeout=30)
        self.assertTrue(any('"vault claimed"' in l.text for l in workers[killed].all_logs))
        mapping.wait_until_drained(180)
        mapping.stop(60)
        self.assertEqual(mapping.errors, [])
        self.assert_all_backed_up()
        self.assert_no_vault_ran_twice_at_once(workers, mapping)
        ordered = sorted(mapping.invocations, key=lambda i: i.started_at)
        self.assertEqual(ordered[0].kind, "crash")
        self.assertEqual(ordered[0].worker, killed)
        # The message came back (its second receive) and that run finished the vault.
        self.assertEqual(ordered[-1].kind, "response")
        self.assertEqual(ordered[-1].receive_counts, [2])
        self.assertEqual(ordered[-1].failed_ids, [])
        self.assertEqual(self.dlq_bodies(), [])

    def test_a_message_the_dlq_refuses_is_not_lost(self):
        self.start_accounts(accounts=("own",))
        self.write_secrets()
        missing = self.queue.dlq_url.rsplit("/", 1)[0] + "/no-such-queue"
        workers = self.workers(1, OBSYNC_DEAD_LETTER_QUEUE_URL=missing)
        self.sqs.send_message(QueueUrl=self.queue.url, MessageBody="not a work message")
        mapping = self.drain(workers, 120)
        # Parking failed each time, so each receive listed it, and SQS's redrive moved it to the
        # real DLQ after maxReceiveCount receives.
        self.assertEqual(len(mapping.invocations), self.queue.max_receive_count)
        self.assertTrue(all(i.failed_ids == i.message_ids for i in mapping.invocations))
        parked = esm_driver.receive_all(self.sqs, self.queue.dlq_url)
        self.assertEqual([m["Body"] for m in parked], ["not a work message"])

    def test_wrong_passwords_reach_the_dlq_once_and_block_nothing(self):
        self.start_accounts()
        self.seed_vault("own", "Good 1")
        self.seed_vault("own", "Bad")
        self.seed_vault("bob", "Good 2")
        self.seed_vault("carol", "Unreachable")
        self.write_secrets(wrong={"Bad"})
        # carol's secret has a wrong account password: her account message cannot sign in.
        self.moto.client("secretsmanager").put_secret_value(
            SecretId=self.account_prefix + "carol",
            SecretString=json.dumps({"email": OTHERS["carol"][0], "password": "wrong-SECRET-pw",
                                     "totp_secret": TOTP_SECRET}))
        self.extra_secrets.append("wrong-SECRET-pw")
        workers = self.workers(2)
        result = workers[0].invoke({})
        self.assertEqual(result.payload["vaults_queued"], 2, self.describe(result))
        self.assertEqual(result.payload["accounts_queued"], 2, self.describe(result))
        mapping = self.drain(workers, 180)
        for account, name in (("own", "Good 1"), ("bob", "Good 2")):
            self.assert_bucket_mirrors(self.corpora[(account, name)], self.key_prefix(account, name))
        self.assertEqual(loopback.bucket_files(self.s3, self.bucket, f"{self.prefix}/Bad"), {})
        bad_id = self.fake.vault_ids()["Bad"]
        parked = self.dlq_bodies()
        # As the dispatch wrote them: the mode too, resolved (docs/lambda.md, "Encrypted at rest").
        self.assertEqual(sorted(json.dumps(b, sort_keys=True) for b in parked), sorted([
            json.dumps({"obsync": 1, "vault_id": bad_id, "sync_type": "incremental",
                        "encrypted": False}, sort_keys=True),
            json.dumps({"obsync": 1, "secret_id": self.account_prefix + "carol",
                        "sync_type": "incremental", "encrypted": False}, sort_keys=True),
        ]))
        # Each tried once: a wrong password is not retried.
        for needle in (bad_id, self.account_prefix + "carol"):
            tries = [i for i in mapping.invocations if any(needle in b for b in i.bodies)]
            self.assertEqual(len(tries), 1, needle)
            self.assertEqual(tries[0].failed_ids, [])
        failures = [l for emu in workers for l in emu.all_logs
                    if '"PermanentFailures"' in l.text and '"_aws"' in l.text]
        self.assertEqual(len(failures), 2)
        # The failed vault's metrics say so (SyncSuccess 0), once.
        bad_metrics = [json.loads(l.text) for emu in workers for l in emu.all_logs
                       if '"_aws"' in l.text and bad_id in l.text]
        self.assertEqual([m["SyncSuccess"] for m in bad_metrics], [0])


if __name__ == "__main__":
    unittest.main()
