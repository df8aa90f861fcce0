"""A stand-in for Lambda's SQS event source mapping (ESM), against moto's SQS, for the tests.

EventSourceMapping polls a standard SQS queue and invokes RuntimeEmulator execution environments
(runtime_emulator.py) the way Lambda's ESM does with FunctionResponseTypes
["ReportBatchItemFailures"]:
- one thread per worker; a worker is one execution environment, so the mapping's maximum
  concurrency is the number of workers (each worker polls, invokes synchronously, then polls
  again: it never has two invocations at once);
- ReceiveMessage (MaxNumberOfMessages = batch_size, every system and message attribute, a short
  long poll, the queue's own VisibilityTimeout, as Lambda uses it), then the event Lambda sends:
  {"Records": [{"messageId", "receiptHandle", "body", "attributes", "messageAttributes",
  "md5OfBody", ["md5OfMessageAttributes",] "eventSource": "aws:sqs", "eventSourceARN",
  "awsRegion"}]} (tests/data/lambda-events/sqs-event.json);
- after the invocation (Lambda's documented success and failure conditions of a partial batch
  response, "Handling errors for an SQS event source in Lambda"):
  * a response that lists messages in batchItemFailures: every other message of the batch is
    deleted, the listed ones come back after their visibility timeout;
  * an empty or null batchItemFailures list, an empty or null response, or a response without
    the batchItemFailures key (the key is case-sensitive: "BatchItemFailures" is no key):
    the whole batch succeeded, all of it is deleted;
  * a response that is not valid JSON, an item whose itemIdentifier is missing (a bad key
    name), null, empty or not a message of the batch: the whole batch failed, nothing is
    deleted. Beyond the documented list we also fail the whole batch when the response is JSON
    but not an object, when batchItemFailures is not a list and when an item is not an object;
  * a function error, a timeout, a crash (the process died) or an init error: nothing is
    deleted, every message of the batch comes back after its visibility timeout.
- the dead-letter queue is SQS's own business: moto's SQS moves a message to the queue's
  RedrivePolicy target when a ReceiveMessage finds it visible again with ApproximateReceiveCount
  >= maxReceiveCount (moto/sqs/models.py receive_message; test_esm_driver's
  MotoRedriveTest checks it), which is what SQS does. So this driver does no redrive of its own.

Not emulated: Lambda's scaling of pollers and its backoff after function errors (the
concurrency is always the number of workers), batching windows (a batch is what one
ReceiveMessage gives: batch_size 1..10), FIFO queues, and the split of a batch whose event is
over 6 MB (an event over the limit fails the whole batch here).

moto's SQS in short (moto 5): the visibility timeout and DelaySeconds are whole seconds; a long
poll is woken by a send but not by a visibility timeout or a delay that ends, so with a 1 s wait
a message that comes back is received up to ~1 s after its visibility timeout; a message moved
to the DLQ keeps its ApproximateReceiveCount (and moto adds no DeadLetterQueueSourceArn);
ApproximateNumberOfMessages,
...NotVisible and ...Delayed are exact counts but read one after another, so a message whose
delay or visibility timeout ends during GetQueueAttributes can be in none of them
(wait_until_drained reads twice); its receive is not locked, so two workers polling at once
can, rarely, both get the same message (SQS's at-least-once delivery allows it too).

Loopback only: the SQS client is the test's (a moto_server on 127.0.0.1).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
import traceback
import uuid
from typing import Any, Sequence

from runtime_emulator import InvocationHandle, InvocationResult, PayloadTooLarge, RuntimeEmulator

# The record attributes Lambda copies from ReceiveMessage's system attributes (the first four
# always; the others when SQS returns them: tracing, FIFO, messages moved from a DLQ).
_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "DeadLetterQueueSourceArn",
)


@dataclasses.dataclass
class QueuePair:
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str
    visibility_timeout: int
    max_receive_count: int


def create_queue_pair(
    sqs,
    name: str | None = None,
    *,
    visibility_timeout: int = 2,
    max_receive_count: int = 3,
    delay_seconds: int = 0,
) -> QueuePair:
    """A work queue (VisibilityTimeout, DelaySeconds, RedrivePolicy to its DLQ after
    max_receive_count receives) and its dead-letter queue, NAME and NAME-dlq (a fresh name
    when none is given)."""
    name = name or f"obsync-work-{uuid.uuid4().hex[:8]}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = queue_arn(sqs, dlq_url)
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "DelaySeconds": str(delay_seconds),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
            ),
        },
    )["QueueUrl"]
    return QueuePair(url, queue_arn(sqs, url), dlq_url, dlq_arn, visibility_timeout, max_receive_count)


def queue_arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def queue_counts(sqs, url: str) -> dict[str, int]:
    """{"visible", "in_flight", "delayed"}: ApproximateNumberOfMessages, ...NotVisible and
    ...Delayed (exact in moto)."""
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return {
        "visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
        "delayed": int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
    }


def receive_all(sqs, url: str, *, hide_for: int = 300, delete: bool = False) -> list[dict]:
    """Every message visible now (e.g. a DLQ's), each received once: they are hidden for
    `hide_for` seconds (or deleted), so none is returned twice."""
    out: list[dict] = []
    while True:
        reply = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=hide_for,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = reply.get("Messages", [])
        if not messages:
            return out
        out.extend(messages)
        if delete:
            _delete(sqs, url, [m["ReceiptHandle"] for m in messages])


def _delete(sqs, url: str, receipt_handles: list[str]) -> list[dict]:
    """DeleteMessageBatch in calls of 10; the entries SQS refused (Id = index in the list)."""
    failed: list[dict] = []
    for start in range(0, len(receipt_handles), 10):
        chunk = receipt_handles[start:start + 10]
        reply = sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(start + i), "ReceiptHandle": h} for i, h in enumerate(chunk)],
        )
        failed.extend(reply.get("Failed", []))
    return failed


# ------------------------------------------------------------------------------ the event


def region_of_arn(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or parts[2] != "sqs":
        raise ValueError(f"not an SQS queue ARN: {arn!r}")
    return parts[3]


def _b64(value: bytes | str) -> str:
    return base64.b64encode(value if isinstance(value, bytes) else value.encode()).decode()


def lambda_message_attributes(attributes: dict[str, dict]) -> dict[str, dict]:
    """ReceiveMessage's MessageAttributes in the event's shape: stringValue / binaryValue (base64)
    when present, the two (reserved, always empty in practice) list fields always, dataType."""
    out = {}
    for name, value in attributes.items():
        item: dict[str, Any] = {}
        if "StringValue" in value:
            item["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            item["binaryValue"] = _b64(value["BinaryValue"])
        item["stringListValues"] = list(value.get("StringListValues", []))
        item["binaryListValues"] = [_b64(v) for v in value.get("BinaryListValues", [])]
        item["dataType"] = value["DataType"]
        out[name] = item
    return out


def sqs_record(message: dict, event_source_arn: str, region: str | None = None) -> dict:
    """One record of the event, from one message of ReceiveMessage."""
    system = message.get("Attributes", {})
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {k: system[k] for k in _RECORD_ATTRIBUTES if k in system},
        "messageAttributes": lambda_message_attributes(message.get("MessageAttributes", {})),
        "md5OfBody": message["MD5OfBody"],
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record["eventSource"] = "aws:sqs"
    record["eventSourceARN"] = event_source_arn
    record["awsRegion"] = region or region_of_arn(event_source_arn)
    return record


def sqs_event(messages: Sequence[dict], event_source_arn: str, region: str | None = None) -> dict:
    return {"Records": [sqs_record(m, event_source_arn, region) for m in messages]}


# ----------------------------------------------------------------- the partial batch response


def batch_item_failures(result: InvocationResult | None, message_ids: Sequence[str],
                        report_batch_item_failures: bool = True) -> tuple[list[str], str | None]:
    """What Lambda makes of an invocation's end: (the message ids that stay on the queue, why the
    whole batch failed or None). The ids keep the batch's order."""
    ids = list(message_ids)
    if result is None:
        return ids, "not invoked"
    if result.kind != "response":
        return ids, result.kind + (f" ({result.error_type})" if result.error_type else "")
    if not report_batch_item_failures:
        return [], None
    raw = result.raw.strip()
    if not raw:
        return [], None  # an empty response
    try:
        answer = json.loads(raw)
    except ValueError:
        return ids, "invalid JSON response"
    if answer is None:
        return [], None  # a null response
    if not isinstance(answer, dict):
        return ids, "response is not a JSON object"
    failures = answer.get("batchItemFailures")
    if failures is None:  # no key, or a null list
        return [], None
    if not isinstance(failures, list):
        return ids, "batchItemFailures is not a list"
    listed: set[str] = set()
    for item in failures:
        if not isinstance(item, dict):
            return ids, f"batchItemFailures item is not an object: {item!r}"
        if "itemIdentifier" not in item:
            return ids, f"batchItemFailures item without itemIdentifier: {item!r}"
        identifier = item["itemIdentifier"]
        if identifier is None:
            return ids, "null itemIdentifier"
        if not isinstance(identifier, str) or identifier == "":
            return ids, f"invalid itemIdentifier {identifier!r}"
        if identifier not in ids:
            return ids, f"itemIdentifier {identifier!r} is not a message of the batch"
        listed.add(identifier)
    return [i for i in ids if i in listed], None


# ------------------------------------------------------------------------------ the mapping


@dataclasses.dataclass
class EsmInvocation:
    worker: int  # index in EventSourceMapping.workers
    message_ids: list[str]
    bodies: list[str]
    receive_counts: list[int]  # ApproximateReceiveCount of each message at this receive
    receipt_handles: list[str]
    event: dict  # exactly what the function was sent
    started_at: float  # time.monotonic() just before the invoke
    ended_at: float  # time.monotonic() when the invocation ended (before the deletes)
    result: InvocationResult | None  # None when the event could not be sent (over 6 MB)
    failed_ids: list[str]  # left on the queue (they come back after the visibility timeout)
    deleted_ids: list[str]
    batch_failure: str | None  # why the whole batch failed, or None
    delete_errors: list[dict]  # DeleteMessageBatch's Failed entries

    @property
    def kind(self) -> str | None:
        return self.result.kind if self.result is not None else None


class EventSourceMapping:
    """Lambda's SQS event source mapping over `workers` (one RuntimeEmulator per concurrent
    execution environment)."""

    def __init__(
        self,
        sqs,
        queue_url: str,
        queue_arn: str,
        workers: Sequence[RuntimeEmulator],
        *,
        batch_size: int = 1,
        wait_seconds: int = 1,
        report_batch_item_failures: bool = True,
        check_visibility_timeout: bool = True,
    ):
        if not 1 <= batch_size <= 10:
            raise ValueError("batch_size is 1..10 (one ReceiveMessage; no batching window here)")
        if not workers:
            raise ValueError("at least one worker")
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.region = region_of_arn(queue_arn)
        self.workers = list(workers)
        self.batch_size = batch_size
        self.wait_seconds = int(wait_seconds)
        self.report_batch_item_failures = report_batch_item_failures
        # Lambda refuses to create the mapping when the queue's visibility timeout is shorter
        # than the function's timeout.
        self.visibility_timeout = int(
            sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])[
                "Attributes"
            ]["VisibilityTimeout"]
        )
        if check_visibility_timeout:
            longest = max(w.function_timeout for w in self.workers)
            if self.visibility_timeout < longest:
                raise ValueError(
                    f"Queue visibility timeout: {self.visibility_timeout} seconds is less than "
                    f"Function timeout: {longest:g} seconds"
                )

        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._handles: dict[int, InvocationHandle] = {}  # worker -> invocation under way
        self._busy: set[int] = set()  # workers between a non-empty receive and its deletes
        self._batches = 0  # non-empty receives so far
        self.invocations: list[EsmInvocation] = []  # in the order they ended
        self.running = 0  # invocations under way now
        self.peak_running = 0  # the most at once
        self.polls = 0  # ReceiveMessage calls
        # (time.monotonic(), worker, message ids, receive counts) of every non-empty receive
        self.receives: list[tuple[float, int, list[str], list[int]]] = []
        self.errors: list[str] = []  # tracebacks of the worker loops' unexpected failures

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> "EventSourceMapping":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        for index in range(len(self.workers)):
            thread = threading.Thread(target=self._run, args=(index,), name=f"esm-worker-{index}",
                                      daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stops polling and waits for the invocations under way (a batch received while
        stopping is still invoked and settled). The emulators stay open (the test closes them)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = [t for t in self._threads if t.is_alive()]
        if self._threads:
            raise TimeoutError(f"{len(self._threads)} ESM worker(s) still busy after {timeout} s")

    # ---------------------------------------------------------------- observing

    def in_flight(self) -> dict[int, bool]:
        """worker -> whether its function process has taken the invocation under way."""
        with self._cond:
            return {w: h.handed_out(0) for w, h in self._handles.items() if not h.done()}

    def invocations_of(self, message_id: str) -> list[EsmInvocation]:
        with self._cond:
            return [inv for inv in self.invocations if message_id in inv.message_ids]

    def queue_counts(self) -> dict[str, int]:
        return queue_counts(self.sqs, self.queue_url)

    def wait_for_invocations(self, count: int, timeout: float) -> list[EsmInvocation]:
        """Waits until at least `count` invocations have ended; a copy of the list."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.invocations) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(self.invocations)} invocation(s) ended within {timeout} s, "
                        f"expected {count}"
                    )
                self._cond.wait(min(left, 0.2))
            return list(self.invocations)

    def wait_until_drained(self, timeout: float, poll: float = 0.1) -> None:
        """Waits until the queue has no visible, in-flight or delayed message and no batch is
        being invoked or settled, on two readings of the queue's counts `poll` seconds apart with
        no batch received from the first to the last. Two, because moto reads the three counts
        one after another on the wall clock: a message whose delay or visibility timeout ends
        during the call can be missed by all three (not yet visible when the first is read, no
        longer delayed or in flight when the others are). TimeoutError with the last state."""
        deadline = time.monotonic() + timeout
        clean_since: int | None = None  # self._batches at the first of the clean readings
        clean_readings = 0
        while True:
            with self._cond:
                idle_before = not self._busy
                batches_before = self._batches
            counts = self.queue_counts()
            with self._cond:
                idle_after = not self._busy and self._batches == batches_before
                batches = self._batches
            if idle_before and idle_after and not any(counts.values()):
                if clean_since is None or clean_since != batches:
                    clean_since, clean_readings = batches, 0
                clean_readings += 1
                if clean_readings >= 2:
                    return
            else:
                clean_since, clean_readings = None, 0
            if time.monotonic() >= deadline:
                state = {**counts, "busy_workers": len(self._busy)}
                raise TimeoutError(f"the queue was not drained within {timeout} s: {state}")
            time.sleep(poll)

    # ---------------------------------------------------------------- killing

    def kill(self, worker: int) -> None:
        """SIGKILL to the worker's function process now: its invocation under way ends as a
        crash and the ESM deletes nothing of that batch."""
        self.workers[worker].kill()

    def kill_in_flight(self, worker: int | None = None, timeout: float = 10.0) -> int:
        """Waits until that worker (or any) has handed an invocation to its function process,
        kills the process mid-invocation, and returns the worker's index."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                candidates = [
                    (w, h) for w, h in self._handles.items()
                    if (worker is None or w == worker) and not h.done()
                ]
            for w, handle in candidates:
                if handle.handed_out(0):
                    self.kill(w)
                    return w
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no invocation was under way within {timeout} s")
            time.sleep(0.01)

    # ---------------------------------------------------------------- the worker loop

    def _run(self, index: int) -> None:
        while not self._stop.is_set():
            try:
                self._poll_once(index)
            except Exception:  # noqa: BLE001 - kept for the test to see, then go on polling
                with self._cond:
                    self.errors.append(traceback.format_exc())
                    self._busy.discard(index)
                    self._handles.pop(index, None)
                    self._cond.notify_all()
                time.sleep(0.2)

    def _poll_once(self, index: int) -> None:
        with self._cond:
            self.polls += 1
        reply = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = reply.get("Messages", [])
        if not messages:
            if self.wait_seconds == 0:
                time.sleep(0.05)
            return
        with self._cond:
            self._busy.add(index)
            self._batches += 1
            self.receives.append((
                time.monotonic(), index, [m["MessageId"] for m in messages],
                [int(m["Attributes"]["ApproximateReceiveCount"]) for m in messages],
            ))
        try:
            self._invoke(index, messages)
        finally:
            with self._cond:
                self._busy.discard(index)
                self._cond.notify_all()

    def _invoke(self, index: int, messages: list[dict]) -> None:
        emulator = self.workers[index]
        event = sqs_event(messages, self.queue_arn, self.region)
        ids = [m["MessageId"] for m in messages]
        with self._cond:
            self.running += 1
            self.peak_running = max(self.peak_running, self.running)
        started = time.monotonic()
        result: InvocationResult | None = None
        try:
            try:
                handle = emulator.invoke_async(event)
            except PayloadTooLarge:
                handle = None
            if handle is not None:
                with self._cond:
                    self._handles[index] = handle
                result = handle.wait()
        finally:
            ended = time.monotonic()
            with self._cond:
                self.running -= 1
                self._handles.pop(index, None)
        failed, why = batch_item_failures(result, ids, self.report_batch_item_failures)
        to_delete = [m for m in messages if m["MessageId"] not in failed]
        delete_errors = _delete(self.sqs, self.queue_url, [m["ReceiptHandle"] for m in to_delete])
        refused = {int(e["Id"]) for e in delete_errors}
        record = EsmInvocation(
            worker=index,
            message_ids=ids,
            bodies=[m["Body"] for m in messages],
            receive_counts=[int(m["Attributes"]["ApproximateReceiveCount"]) for m in messages],
            receipt_handles=[m["ReceiptHandle"] for m in messages],
            event=event,
            started_at=started,
            ended_at=ended,
            result=result,
            failed_ids=failed,
            deleted_ids=[m["MessageId"] for i, m in enumerate(to_delete) if i not in refused],
            batch_failure=why,
            delete_errors=delete_errors,
        )
        with self._cond:
            self.invocations.append(record)
            self._cond.notify_all()
