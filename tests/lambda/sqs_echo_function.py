#!/usr/bin/env python3
"""A tiny SQS-triggered function on the Lambda Runtime API, to test esm_driver.py.

Each record's body (a JSON object; anything else is a plain success) says what to do with it.
A value `true` applies on every receive, an integer n only while the record's
ApproximateReceiveCount is <= n (so {"fail": 1} fails the first receive and passes the second);
{"until": n} makes the whole body apply only while the receive count is <= n (a plain success
after that):
  {"fail": ...}         listed in batchItemFailures
  {"crash": ...}        log a line, then os._exit(3) mid-invocation (the whole batch crashes)
  {"error": ...}        the invocation fails: POST /invocation/{id}/error (function error)
  {"sleep": s}          sleep s seconds before answering (added up over the batch)
  {"respond": value}    answer exactly `value` (JSON) instead of the batch response
  {"respond_raw": str}  answer these bytes as they are (for malformed answers)
Otherwise the answer is {"batchItemFailures": [{"itemIdentifier": messageId}, ...]}.
One JSON log line per invocation ("invoked": the message ids, receive counts, the pid) and one
with the whole event ("event"), so a test can read what the function really got.
"""

import json
import os
import sys
import time
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from echo_function import BASE, post  # noqa: E402  the Runtime API's base URL and POST


def applies(value, receive_count):
    if value is True:
        return True
    if isinstance(value, int) and not isinstance(value, bool):
        return receive_count <= value
    return False


def main():
    print(json.dumps({"message": "init", "pid": os.getpid()}), flush=True)
    while True:
        with urllib.request.urlopen(BASE + "/invocation/next", timeout=3600) as reply:
            request_id = reply.headers["Lambda-Runtime-Aws-Request-Id"]
            raw = reply.read()
        event = json.loads(raw)
        records = event.get("Records", [])
        print(json.dumps({"message": "event", "event": event}), flush=True)
        print(
            json.dumps(
                {
                    "message": "invoked",
                    "pid": os.getpid(),
                    "ids": [r["messageId"] for r in records],
                    "receive_counts": [int(r["attributes"]["ApproximateReceiveCount"]) for r in records],
                }
            ),
            flush=True,
        )
        failures = []
        override = None
        function_error = False
        for record in records:
            count = int(record["attributes"]["ApproximateReceiveCount"])
            try:
                body = json.loads(record["body"])
            except ValueError:
                body = None
            if not isinstance(body, dict):
                continue
            if "until" in body and count > int(body["until"]):
                continue
            if applies(body.get("crash"), count):
                print(json.dumps({"message": "crashing", "id": record["messageId"]}), flush=True)
                os._exit(3)
            if body.get("sleep"):
                time.sleep(float(body["sleep"]))
            if applies(body.get("error"), count):
                function_error = True
            if applies(body.get("fail"), count):
                failures.append({"itemIdentifier": record["messageId"]})
            if "respond" in body:
                override = json.dumps(body["respond"]).encode()
            if "respond_raw" in body:
                override = str(body["respond_raw"]).encode()
        if function_error:
            post(
                f"/invocation/{request_id}/error",
                json.dumps({"errorMessage": "asked to fail", "errorType": "SqsEcho.Failure"}).encode(),
                {"Lambda-Runtime-Function-Error-Type": "SqsEcho.Failure"},
            )
            continue
        answer = override if override is not None else json.dumps({"batchItemFailures": failures}).encode()
        post(f"/invocation/{request_id}/response", answer, {"Content-Type": "application/json"})


if __name__ == "__main__":
    main()
