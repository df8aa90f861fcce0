"""The SQS event source mapping stand-in (esm_driver.py) against moto's SQS and a tiny Python
function (sqs_echo_function.py) in RuntimeEmulator execution environments. Loopback only."""

import base64
import hashlib
import json
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from esm_driver import (  # noqa: E402
    EventSourceMapping,
    batch_item_failures,
    create_queue_pair,
    queue_counts,
    receive_all,
    sqs_record,
)
from loopback import MotoServer  # noqa: E402
from runtime_emulator import InvocationResult, RuntimeEmulator  # noqa: E402

SQS_ECHO = [sys.executable, os.path.join(HERE, "sqs_echo_function.py")]
SAMPLE_EVENT = os.path.join(HERE, "..", "data", "lambda-events", "sqs-event.json")


def response(raw, kind="response", error_type=None):
    """An InvocationResult as the emulator makes one, for the pure response tests."""
    if not isinstance(raw, bytes):
        raw = json.dumps(raw).encode()
    return InvocationResult(
        kind=kind, payload=None, raw=raw, error_type=error_type, duration=0.0, logs=[],
        log_records=[], request_id="r", cold=False, pid=None, init_duration=None,
        started_at=0.0, ended_at=0.0,
    )


def max_overlap(invocations):
    """The most invocations that were under way at one instant."""
    edges = sorted(
        [(inv.started_at, 1) for inv in invocations] + [(inv.ended_at, -1) for inv in invocations],
        key=lambda e: (e[0], e[1]),  # an end before a start at the same instant
    )
    now = peak = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


class BatchResponseTest(unittest.TestCase):
    """Lambda's documented success and failure conditions of a partial batch response."""

    IDS = ["id-1", "id-2", "id-3"]

    def outcome(self, raw, **kwargs):
        return batch_item_failures(response(raw, **kwargs), self.IDS)

    def test_complete_success(self):
        for raw in (b"", b"  ", b"null", {}, {"batchItemFailures": []},
                    {"batchItemFailures": None}, {"other": 1},
                    {"BatchItemFailures": [{"ItemIdentifier": "id-1"}]}):  # keys are case-sensitive
            with self.subTest(raw=raw):
                self.assertEqual(self.outcome(raw), ([], None))

    def test_listed_items_stay_in_batch_order(self):
        failed, why = self.outcome(
            {"batchItemFailures": [{"itemIdentifier": "id-3"}, {"itemIdentifier": "id-1"},
                                   {"itemIdentifier": "id-3"}]}
        )
        self.assertEqual((failed, why), (["id-1", "id-3"], None))

    def test_complete_failure(self):
        for raw in (
            b"not json",
            b'{"batchItemFailures": [',
            {"batchItemFailures": [{"itemIdentifier": ""}]},
            {"batchItemFailures": [{"itemIdentifier": None}]},
            {"batchItemFailures": [{"itemId": "id-1"}]},
            {"batchItemFailures": [{"itemIdentifier": "id-1"}, {"itemIdentifier": "id-9"}]},
            {"batchItemFailures": [{"itemIdentifier": 1}]},
            {"batchItemFailures": ["id-1"]},
            {"batchItemFailures": "id-1"},
            {"batchItemFailures": {"itemIdentifier": "id-1"}},
            "ok",
            [{"itemIdentifier": "id-1"}],
        ):
            with self.subTest(raw=raw):
                failed, why = self.outcome(raw)
                self.assertEqual(failed, self.IDS)
                self.assertIsNotNone(why)

    def test_error_timeout_crash_fail_the_whole_batch(self):
        for kind in ("error", "timeout", "crash", "init_error"):
            with self.subTest(kind=kind):
                failed, why = self.outcome({"batchItemFailures": []}, kind=kind)
                self.assertEqual(failed, self.IDS)
                self.assertTrue(why.startswith(kind))
        self.assertEqual(batch_item_failures(None, self.IDS), (self.IDS, "not invoked"))

    def test_without_report_batch_item_failures_any_response_succeeds(self):
        raw = {"batchItemFailures": [{"itemIdentifier": "id-1"}]}
        self.assertEqual(batch_item_failures(response(raw), self.IDS, False), ([], None))
        self.assertEqual(batch_item_failures(response(raw, kind="error"), self.IDS, False)[0], self.IDS)


class MotoCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = MotoServer()
        cls.sqs = cls.moto.client("sqs")

    @classmethod
    def tearDownClass(cls):
        cls.moto.close()

    def queues(self, **kwargs):
        return create_queue_pair(self.sqs, **kwargs)

    def send(self, url, *bodies, **kwargs):
        """Sends each body (JSON-encoded unless a str); their message ids, in order."""
        ids = []
        for body in bodies:
            text = body if isinstance(body, str) else json.dumps(body)
            ids.append(self.sqs.send_message(QueueUrl=url, MessageBody=text, **kwargs)["MessageId"])
        return ids

    def mapping(self, pair, workers=1, function_timeout=None, **kwargs):
        """An EventSourceMapping over `workers` fresh emulators of sqs_echo_function.py,
        started; stopped (then the emulators closed) at cleanup."""
        timeout = function_timeout if function_timeout is not None else pair.visibility_timeout
        emulators = []
        for _ in range(workers):
            emu = RuntimeEmulator(SQS_ECHO, function_timeout=timeout, function_name="sqs-echo")
            emu.start()
            self.addCleanup(emu.close)
            emulators.append(emu)
        esm = EventSourceMapping(self.sqs, pair.url, pair.arn, emulators, **kwargs)
        self.addCleanup(esm.stop)
        esm.start()
        return esm

    def settle(self, esm, timeout=20):
        esm.wait_until_drained(timeout)
        esm.stop()
        self.assertEqual(esm.errors, [])
        # Every batch received was invoked and settled.
        self.assertEqual(sorted(r[2] for r in esm.receives),
                         sorted(inv.message_ids for inv in esm.invocations), self.story(esm))
        return list(esm.invocations)

    @staticmethod
    def story(esm):
        """What happened, for a failure's message."""
        lines = [f"receive at {at:.3f} by {w}: {ids} counts {counts}" for at, w, ids, counts in esm.receives]
        lines += [
            f"invocation by {inv.worker} {inv.started_at:.3f}-{inv.ended_at:.3f}: {inv.kind} "
            f"{inv.message_ids} counts {inv.receive_counts} failed {inv.failed_ids} "
            f"({inv.batch_failure}) deleted {inv.deleted_ids} raw {inv.result.raw[:200] if inv.result else None}"
            for inv in esm.invocations
        ]
        return "\n".join(lines)


class MotoRedriveTest(MotoCase):
    """moto's SQS redrives by itself, as SQS does: the driver relies on it and has no redrive."""

    def test_moto_moves_a_message_to_the_dlq_after_max_receive_count(self):
        pair = self.queues(visibility_timeout=1, max_receive_count=2)
        [mid] = self.send(pair.url, {"n": 1})
        counts = []
        for _ in range(2):
            got = self.sqs.receive_message(QueueUrl=pair.url, WaitTimeSeconds=0, AttributeNames=["All"])
            [message] = got["Messages"]
            counts.append(message["Attributes"]["ApproximateReceiveCount"])
            # Back now rather than in a second (ChangeMessageVisibility 0, as a consumer may).
            self.sqs.change_message_visibility(
                QueueUrl=pair.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
            time.sleep(0.01)
        self.assertEqual(counts, ["1", "2"])
        # The third receive finds it over maxReceiveCount: moved, not delivered.
        got = self.sqs.receive_message(QueueUrl=pair.url, WaitTimeSeconds=0)
        self.assertEqual(got.get("Messages", []), [])
        self.assertEqual(queue_counts(self.sqs, pair.url), {"visible": 0, "in_flight": 0, "delayed": 0})
        moved = receive_all(self.sqs, pair.dlq_url)
        self.assertEqual([m["MessageId"] for m in moved], [mid])
        self.assertEqual(json.loads(moved[0]["Body"]), {"n": 1})


class EventSourceMappingTest(MotoCase):
    def test_event_is_lambdas_sqs_event_and_success_deletes_the_batch(self):
        pair = self.queues()
        attributes = {
            "Attribute1": {"DataType": "String", "StringValue": "AttributeValue1"},
            "Attribute2": {"DataType": "Number", "StringValue": "123"},
            "Attribute3": {"DataType": "Binary", "BinaryValue": b"1100"},
        }
        ids = self.send(pair.url, {"n": 1}, MessageAttributes=attributes)
        ids += self.send(pair.url, "plain text")
        esm = self.mapping(pair, batch_size=10)
        invocations = self.settle(esm)
        self.assertEqual(sorted(i for inv in invocations for i in inv.deleted_ids), sorted(ids))
        first = invocations[0]
        self.assertEqual(first.kind, "response")
        self.assertIsNone(first.batch_failure)

        with open(SAMPLE_EVENT) as f:
            sample = json.load(f)["Records"][0]
        records = [r for inv in invocations for r in inv.event["Records"]]
        with_attrs = next(r for r in records if r["messageId"] == ids[0])
        self.assertEqual(set(with_attrs), set(sample))
        self.assertEqual(set(with_attrs["attributes"]), set(sample["attributes"]))
        self.assertEqual(with_attrs["eventSource"], "aws:sqs")
        self.assertEqual(with_attrs["eventSourceARN"], pair.arn)
        self.assertEqual(with_attrs["awsRegion"], "us-east-1")
        self.assertEqual(with_attrs["body"], '{"n": 1}')
        self.assertEqual(with_attrs["md5OfBody"], hashlib.md5(b'{"n": 1}').hexdigest())
        self.assertEqual(with_attrs["attributes"]["ApproximateReceiveCount"], "1")
        self.assertEqual(
            with_attrs["messageAttributes"],
            {
                "Attribute1": {"stringValue": "AttributeValue1", "stringListValues": [],
                               "binaryListValues": [], "dataType": "String"},
                "Attribute2": {"stringValue": "123", "stringListValues": [],
                               "binaryListValues": [], "dataType": "Number"},
                "Attribute3": {"binaryValue": base64.b64encode(b"1100").decode(),
                               "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
            },
        )
        for name, item in sample["messageAttributes"].items():  # the sample's keys, less theirs
            self.assertLessEqual(set(with_attrs["messageAttributes"][name]) - {"binaryValue", "stringValue"},
                                 set(item))
        plain = next(r for r in records if r["messageId"] == ids[1])
        self.assertEqual(set(sample) - set(plain), {"md5OfMessageAttributes"})
        self.assertEqual(plain["messageAttributes"], {})
        # What the function got is what the driver recorded.
        got = [json.loads(line)["event"] for inv in invocations for line in inv.result.logs
               if line.startswith('{"message": "event"')]
        self.assertEqual(got, [inv.event for inv in invocations])

    def test_partial_batch_failure_deletes_only_the_others(self):
        pair = self.queues(visibility_timeout=1)
        fail_a, ok_b, fail_c, ok_d = self.send(pair.url, {"fail": 1}, {"n": 2}, {"fail": 1}, {"n": 4})
        esm = self.mapping(pair, batch_size=4)
        [first] = esm.wait_for_invocations(1, 10)
        self.assertEqual(first.message_ids, [fail_a, ok_b, fail_c, ok_d])
        self.assertEqual(first.failed_ids, [fail_a, fail_c])
        self.assertEqual(first.deleted_ids, [ok_b, ok_d])
        self.assertIsNone(first.batch_failure)
        self.assertEqual(esm.queue_counts()["in_flight"], 2)
        invocations = self.settle(esm)
        self.assertEqual(len(invocations), 2, self.story(esm))
        second = invocations[1]
        self.assertEqual(sorted(second.message_ids), sorted([fail_a, fail_c]))
        self.assertEqual(second.receive_counts, [2, 2])
        self.assertEqual(sorted(second.deleted_ids), sorted([fail_a, fail_c]))
        self.assertGreaterEqual(second.started_at - first.started_at, 0.9)

    def test_crash_returns_the_whole_batch_after_the_visibility_timeout(self):
        pair = self.queues(visibility_timeout=2)
        ids = self.send(pair.url, {"n": 1}, {"crash": 1}, {"n": 3})
        esm = self.mapping(pair, batch_size=3)
        invocations = self.settle(esm)
        self.assertEqual(len(invocations), 2, self.story(esm))
        first, second = invocations
        self.assertEqual(first.kind, "crash")
        self.assertEqual(first.message_ids, ids)
        self.assertEqual(first.failed_ids, ids)
        self.assertEqual(first.deleted_ids, [])
        self.assertEqual(sorted(second.message_ids), sorted(ids))
        self.assertEqual(second.receive_counts, [2, 2, 2])
        self.assertEqual(second.kind, "response")
        self.assertTrue(second.result.cold)
        self.assertGreaterEqual(second.started_at - first.started_at, 1.9)

    def test_kill_mid_invocation_is_a_crash_and_nothing_is_deleted(self):
        pair = self.queues(visibility_timeout=2)
        [mid] = self.send(pair.url, {"sleep": 1})
        esm = self.mapping(pair)
        self.assertEqual(esm.kill_in_flight(timeout=10), 0)
        invocations = self.settle(esm)
        self.assertEqual([inv.kind for inv in invocations], ["crash", "response"])
        self.assertEqual(invocations[0].failed_ids, [mid])
        self.assertEqual(invocations[1].receive_counts, [2])
        self.assertEqual(invocations[1].deleted_ids, [mid])

    def test_function_error_and_timeout_keep_the_whole_batch(self):
        pair = self.queues(visibility_timeout=1)
        erring, fine = self.send(pair.url, {"error": 1}, {"n": 1})
        esm = self.mapping(pair, batch_size=2)
        invocations = self.settle(esm)
        self.assertEqual([inv.kind for inv in invocations], ["error", "response"])
        self.assertEqual(invocations[0].failed_ids, [erring, fine])
        self.assertEqual(invocations[1].receive_counts, [2, 2])

        slow, other = self.send(pair.url, {"sleep": 3, "until": 1}, {"n": 2})
        esm = self.mapping(pair, batch_size=2)
        invocations = self.settle(esm)
        self.assertEqual([inv.kind for inv in invocations], ["timeout", "response"])
        self.assertEqual(invocations[0].failed_ids, [slow, other])
        self.assertEqual(sorted(invocations[1].deleted_ids), sorted([slow, other]))

    def test_a_message_failing_every_time_lands_in_the_dlq_once(self):
        pair = self.queues(visibility_timeout=1, max_receive_count=3)
        listed, erring, fine = self.send(pair.url, {"fail": True}, {"error": True}, {"n": 1})
        esm = self.mapping(pair)
        invocations = self.settle(esm, timeout=30)
        for mid in (listed, erring):
            self.assertEqual([inv.receive_counts[0] for inv in esm.invocations_of(mid)], [1, 2, 3])
        self.assertEqual(len(esm.invocations_of(fine)), 1)
        self.assertEqual(len(invocations), 7, self.story(esm))
        dead = receive_all(self.sqs, pair.dlq_url)
        self.assertEqual(sorted(m["MessageId"] for m in dead), sorted([listed, erring]))
        self.assertEqual({m["Body"] for m in dead}, {'{"fail": true}', '{"error": true}'})
        self.assertEqual(queue_counts(self.sqs, pair.url), {"visible": 0, "in_flight": 0, "delayed": 0})

    def test_concurrency_never_exceeds_the_worker_count(self):
        pair = self.queues(visibility_timeout=3)
        ids = self.send(pair.url, *[{"sleep": 0.4, "n": n} for n in range(9)])
        esm = self.mapping(pair, workers=3)
        invocations = self.settle(esm)
        self.assertEqual(esm.peak_running, 3)
        self.assertLessEqual(max_overlap(invocations), 3)
        for worker in range(3):
            mine = [inv for inv in invocations if inv.worker == worker]
            self.assertLessEqual(max_overlap(mine), 1)
            self.assertEqual(len({inv.result.pid for inv in mine}), 1)  # one warm environment
        # At-least-once: every message was processed and deleted (a duplicate would be allowed).
        self.assertEqual({i for inv in invocations for i in inv.deleted_ids}, set(ids))
        self.assertGreaterEqual(len({inv.worker for inv in invocations}), 3)

    def test_malformed_response_fails_the_whole_batch(self):
        pair = self.queues(visibility_timeout=1)
        bad = {"batchItemFailures": [{"itemIdentifier": "no-such-message"}]}
        odd, fine = self.send(pair.url, {"respond": bad, "until": 1}, {"n": 1})
        esm = self.mapping(pair, batch_size=2)
        invocations = self.settle(esm)
        self.assertEqual(len(invocations), 2, self.story(esm))
        first, second = invocations
        self.assertEqual(first.kind, "response")
        self.assertIn("not a message of the batch", first.batch_failure)
        self.assertEqual((first.failed_ids, first.deleted_ids), ([odd, fine], []))
        self.assertEqual(second.receive_counts, [2, 2])
        self.assertIsNone(second.batch_failure)

        [raw] = self.send(pair.url, {"respond_raw": "{not json", "until": 1})
        esm = self.mapping(pair)
        invocations = self.settle(esm)
        self.assertEqual([inv.batch_failure for inv in invocations], ["invalid JSON response", None])
        self.assertEqual(invocations[1].deleted_ids, [raw])

    def test_drained_waits_for_delayed_messages(self):
        pair = self.queues(visibility_timeout=1)
        esm = self.mapping(pair)
        started = time.monotonic()
        [mid] = self.send(pair.url, {"n": 1}, DelaySeconds=2)
        self.assertEqual(esm.queue_counts()["delayed"], 1)
        invocations = self.settle(esm)
        self.assertGreaterEqual(time.monotonic() - started, 1.9)
        self.assertEqual([inv.deleted_ids for inv in invocations], [[mid]])

    def test_refused_like_lambda_when_visibility_is_shorter_than_the_function_timeout(self):
        pair = self.queues(visibility_timeout=1)
        emu = RuntimeEmulator(SQS_ECHO, function_timeout=5)
        with self.assertRaisesRegex(ValueError, "less than Function timeout"):
            EventSourceMapping(self.sqs, pair.url, pair.arn, [emu])
        EventSourceMapping(self.sqs, pair.url, pair.arn, [emu], check_visibility_timeout=False)


class RecordShapeTest(unittest.TestCase):
    def test_record_from_a_receive_message_reply(self):
        message = {
            "MessageId": "m-1", "ReceiptHandle": "rh", "Body": "b", "MD5OfBody": "x",
            "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1", "SenderId": "S",
                           "ApproximateFirstReceiveTimestamp": "2", "AWSTraceHeader": "Root=1-a"},
        }
        record = sqs_record(message, "arn:aws:sqs:eu-west-1:123456789012:q")
        self.assertEqual(record["awsRegion"], "eu-west-1")
        self.assertEqual(record["attributes"]["AWSTraceHeader"], "Root=1-a")
        self.assertNotIn("md5OfMessageAttributes", record)
        with self.assertRaises(ValueError):
            sqs_record(message, "arn:aws:sns:eu-west-1:123456789012:q")


if __name__ == "__main__":
    unittest.main()
