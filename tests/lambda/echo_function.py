#!/usr/bin/env python3
"""A tiny bootstrap that follows the Lambda Runtime API, to test runtime_emulator.py.

The event says what to do: {"action": ...}
  echo (default)   respond with the event, the pid, the request headers, HOME and the cwd
  error            POST /error with {"errorMessage", "errorType": event["type"]}
  sleep            sleep event["seconds"], then respond
  crash            log a line, then exit(3) mid-invocation
  big              respond with a JSON string of event["size"] bytes; report the status of the
                   POST in the next invocation's echo ("last_post_status")
  log              print event["lines"] on stdout and event["stderr"] on stderr, then respond
Environment: ECHO_INIT_ERROR=1 → POST /init/error and exit(1) before the first /next.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = f"http://{API}/2018-06-01/runtime"


def post(path, body, headers=None):
    request = urllib.request.Request(BASE + path, data=body, method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status
    except urllib.error.HTTPError as error:
        return error.code


def main():
    print(json.dumps({"message": "init", "pid": os.getpid()}), flush=True)
    if os.environ.get("ECHO_INIT_ERROR") == "1":
        status = post(
            "/init/error",
            json.dumps({"errorMessage": "S3_BUCKET is not set", "errorType": "Echo.ConfigError"}).encode(),
            {"Lambda-Runtime-Function-Error-Type": "Echo.ConfigError"},
        )
        print(json.dumps({"message": "init error posted", "status": status}), flush=True)
        sys.exit(1)
    last_post_status = None
    while True:
        with urllib.request.urlopen(BASE + "/invocation/next", timeout=3600) as reply:
            headers = {k: v for k, v in reply.headers.items() if k.lower().startswith("lambda-runtime")}
            request_id = reply.headers["Lambda-Runtime-Aws-Request-Id"]
            raw = reply.read()
        try:
            event = json.loads(raw)
        except ValueError:
            event = {"action": "echo", "raw": raw.decode("utf-8", "replace")}
        if not isinstance(event, dict):
            event = {"action": "echo", "value": event}
        action = event.get("action", "echo")
        print(json.dumps({"message": "invoked", "action": action, "request_id": request_id}), flush=True)
        path = f"/invocation/{request_id}/response"
        if action == "error":
            error_type = event.get("type", "Echo.Failure")
            last_post_status = post(
                f"/invocation/{request_id}/error",
                json.dumps({"errorMessage": "asked to fail", "errorType": error_type, "stackTrace": []}).encode(),
                {"Lambda-Runtime-Function-Error-Type": error_type},
            )
            continue
        if action == "crash":
            print(json.dumps({"message": "crashing"}), flush=True)
            os._exit(3)
        if action == "sleep":
            time.sleep(float(event.get("seconds", 1)))
        if action == "log":
            for line in event.get("lines", []):
                print(line, flush=True)
            for line in event.get("stderr", []):
                print(line, file=sys.stderr, flush=True)
        if action == "big":
            body = json.dumps("x" * int(event["size"])).encode()
            last_post_status = post(path, body, {"Content-Type": "application/json"})
            print(json.dumps({"message": "big posted", "status": last_post_status}), flush=True)
            continue
        answer = {
            "event": event,
            "pid": os.getpid(),
            "headers": headers,
            "home": os.environ.get("HOME"),
            "cwd": os.getcwd(),
            "env": {k: v for k, v in os.environ.items() if k.startswith("AWS_LAMBDA") or k == "AWS_REGION"},
            "last_post_status": last_post_status,
        }
        last_post_status = post(path, json.dumps(answer).encode(), {"Content-Type": "application/json"})


if __name__ == "__main__":
    main()
