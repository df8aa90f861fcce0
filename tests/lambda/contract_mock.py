#!/usr/bin/env python3
"""A stand-in for obsync-lambda, to check the scenario tests themselves (not a product).

It follows the contract (docs/lambda.md) as far as a wrapper of the obsync CLI can: it decodes the
events, checks the requests, answers in the contract's shapes, logs Powertools JSON lines and EMF
records, and runs `obsync sync ... --json` for the sync itself. It cannot stop at the deadline,
it signs in and reads the secret on every invocation (the CLI does), and it maps CLI failures to
error kinds by their message. So DeadlineTest and WarmReuseTest are expected to fail with it,
which shows that they can.

Run the scenario tests with it: OBSYNC_LAMBDA_BINARY=tests/lambda/contract_mock.py
(OBSYNC_BINARY names the CLI; build/obsync by default).
"""

import base64
import binascii
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"
OBSYNC = os.environ.get("OBSYNC_BINARY") or str(Path(__file__).resolve().parents[2] / "build" / "obsync")
FUNCTION = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "obsync")
MEMORY = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
FIELDS = {"vault_id", "sync_type", "email", "password", "totp_secret", "vault_password",
          "dest_bucket", "dest_prefix"}
CREDENTIALS = ("email", "password", "totp_secret", "vault_password")
STATUS = {"bad_input": 400, "forbidden": 403, "not_found": 404, "method": 405, "busy": 409,
          "too_large": 413}
context = {}
cold = True


class Refused(Exception):
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def log(level, message, **fields):
    record = {
        "timestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "level": level, "message": message, "service": "obsync", **context, **fields,
    }
    print(json.dumps(record), flush=True)


def post(path, body, error_type=None):
    headers = {"Content-Type": "application/json"}
    if error_type:
        headers["Lambda-Runtime-Function-Error-Type"] = error_type
    request = urllib.request.Request(API + path, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30):
            pass
    except urllib.error.HTTPError:
        pass


def config():
    env = os.environ
    for name in ("S3_BUCKET", "STATE_TABLE_NAME"):
        if not env.get(name):
            raise ValueError(f"{name} is not set")
    if "OBSYNC_CONCURRENCY" in env:
        try:
            value = int(env["OBSYNC_CONCURRENCY"])
        except ValueError:
            raise ValueError("OBSYNC_CONCURRENCY is not a number") from None
        if not 1 <= value <= 16:
            raise ValueError("OBSYNC_CONCURRENCY must be 1..16")
    if "OBSYNC_DEADLINE_MARGIN" in env:
        try:
            float(env["OBSYNC_DEADLINE_MARGIN"])
        except ValueError:
            raise ValueError("OBSYNC_DEADLINE_MARGIN is not a number") from None


def decode(raw):
    """(request, http) or Refused."""
    try:
        event = json.loads(raw)
    except ValueError:
        raise Refused("bad_input", "the event is not JSON") from None
    if not isinstance(event, dict):
        raise Refused("bad_input", "the event is not a JSON object")
    if "Records" in event:
        raise Refused("bad_input", "SQS (Records) events are not supported")
    http = None
    if "httpMethod" in event and "requestContext" in event:
        http, method = "v1", event["httpMethod"]
    elif event.get("version") == "2.0" and "http" in event.get("requestContext", {}):
        http, method = "v2", event["requestContext"]["http"]["method"]
    if http:
        decode.http = http
        if method != "POST":
            raise Refused("method", f"method {method} is not allowed: POST")
        body = event.get("body") or ""
        if event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(body, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise Refused("bad_input", "the body is not valid base64") from None
        if len(body.encode()) > 1024 * 1024:
            raise Refused("too_large", "the body is larger than 1 MiB")
        if not body.strip():
            return {}, http
        try:
            request = json.loads(body)
        except ValueError:
            raise Refused("bad_input", "the body is not JSON") from None
        if not isinstance(request, dict):
            raise Refused("bad_input", "the body is not a JSON object")
        return request, http
    if event.get("detail-type") == "Scheduled Event" and event.get("source") == "aws.events":
        return {}, None
    return event, None


def check(request):
    unknown = set(request) - FIELDS
    if unknown:
        raise Refused("bad_input", f"unknown fields: {', '.join(sorted(unknown))}")
    for key, value in request.items():
        if not isinstance(value, str):
            raise Refused("bad_input", f"{key} must be a string")
    if request.get("sync_type", "incremental") not in ("complete", "incremental"):
        raise Refused("bad_input", "sync_type must be complete or incremental")
    if any(k in request for k in CREDENTIALS) and os.environ.get("ALLOW_REQUEST_CREDENTIALS") != "true":
        raise Refused("forbidden", "credentials in a request are disabled (ALLOW_REQUEST_CREDENTIALS)")
    allowed = os.environ.get("ALLOWED_BUCKETS", os.environ["S3_BUCKET"]).split(",")
    if "dest_bucket" in request and request["dest_bucket"] not in allowed:
        raise Refused("forbidden", "dest_bucket is not allowed")
    prefix = request.get("dest_prefix")
    if prefix is not None and (
        prefix.startswith("/") or any(s in ("", ".", "..") for s in prefix.split("/"))
        or any(ord(c) < 32 for c in prefix)
    ):
        raise Refused("bad_input", "dest_prefix is not a valid prefix")


def cli(args, request):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_LAMBDA")}
    home = tempfile.mkdtemp(prefix="mock-")
    env.update(XDG_CONFIG_HOME=home, XDG_STATE_HOME=home)
    for key in CREDENTIALS:
        if key in request:
            env["OBSIDIAN_" + key.upper()] = request[key]
    return subprocess.run([OBSYNC, *args], env=env, capture_output=True, text=True, timeout=900)


def sync(request):
    bucket = request.get("dest_bucket", os.environ["S3_BUCKET"])
    prefix = request.get("dest_prefix", os.environ.get("S3_PREFIX", ""))
    sync_type = request.get("sync_type", "incremental")
    names = {}
    listed = cli(["vaults", "--json"], request)
    if listed.returncode == 0:
        for v in json.loads(listed.stdout).get("vaults", []):
            names[v["id"]] = v["name"]
    wanted = request.get("vault_id")
    base = f"s3://{bucket}/{prefix}".rstrip("/")
    state = f"dynamodb://{os.environ['STATE_TABLE_NAME']}"
    if wanted:
        match = [i for i, n in names.items() if wanted in (i, n)]
        if listed.returncode == 0 and not match:
            raise Refused("not_found", f"vault {wanted} not found")
        name = names.get(match[0], wanted) if match else wanted
        args = ["sync", wanted, "--dest", f"{base}/{name}"]
    else:
        args = ["sync", "--all", "--dest", base]
    args += ["--state", state, "--json"] + (["--full"] if sync_type == "complete" else [])
    args += ["--concurrency", os.environ.get("OBSYNC_CONCURRENCY", "4")]
    started = time.monotonic()
    run = cli(args, request)
    try:
        report = json.loads(run.stdout)
    except ValueError:
        message = (run.stderr.strip().splitlines() or ["obsync failed"])[-1]
        if "lease" in message.lower() or "busy" in message.lower() or "held" in message.lower():
            raise Refused("busy", message) from None
        report = {"vaults": [], "error": message}
    vaults = []
    errors = [report["error"]] if report.get("error") else []
    for v in report.get("vaults", []):
        failures = [{"path": e.get("path", ""), "kind": "file", "message": e.get("message", "")}
                    for e in v.get("errors", [])]
        g = lambda key, default=0: v.get(key, default)  # noqa: E731
        vaults.append({
            "id": v["id"], "name": g("name", ""), "destination": g("destination", ""),
            "ok": g("ok", False), "complete": g("complete", False), "stopped_early": False,
            "created": g("created"), "updated": g("updated"), "deleted": g("deleted"),
            "unchanged": g("unchanged"), "failed": g("failed"), "refused": len(g("refused", [])),
            "not_attempted": 0, "bytes_downloaded": g("bytes"), "duration_ms": g("duration_ms"),
            "cursor": g("cursor", None), "failures": failures,
        })
        if v.get("error"):
            errors.append(f"{g('name', v['id'])}: {v['error']}")
        errors += [f"{f['path']}: {f['message']}" for f in failures]
    duration = time.monotonic() - started
    return {
        "success": run.returncode == 0 and all(v["ok"] for v in vaults),
        "partial": False,
        "vaults_synced": sum(1 for v in vaults if v["ok"]),
        "files_count": sum(v["created"] + v["updated"] + v["deleted"] for v in vaults),
        "duration": duration, "duration_ms": int(duration * 1000),
        "errors": errors,
        "details": {"sync_type": sync_type, "dest_bucket": bucket, "dest_prefix": prefix,
                    "lambda_memory": int(MEMORY)},
        "vaults": vaults,
        "request_id": context["function_request_id"],
    }


def emf(dimensions, metrics, values):
    doc = {"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [
        {"Namespace": "Obsync/Lambda", "Dimensions": [dimensions],
         "Metrics": [{"Name": n, "Unit": u} for n, u in metrics]}]}}
    doc.update(values)
    print(json.dumps(doc), flush=True)


def handle(request_id, raw):
    global cold
    http = None
    decode.http = None
    try:
        request, http = decode(raw)
        check(request)
        log("INFO", "sync requested", vault_id=request.get("vault_id"))
        body = sync(request)
        status = 200
    except Refused as refused:
        http = decode.http
        if refused.kind == "busy" and http is None:
            post(f"/invocation/{request_id}/error",
                 {"errorMessage": str(refused), "errorType": "Obsync.Retryable.busy", "stackTrace": []},
                 "Obsync.Retryable.busy")
            return None
        status = STATUS[refused.kind]
        body = {"success": False, "error": {"kind": refused.kind, "message": str(refused)},
                "errors": [str(refused)], "request_id": request_id}
    for v in body.get("vaults", []):
        emf(["VaultID", "FunctionName"],
            [("SyncDuration", "Seconds"), ("FilesProcessed", "Count"), ("SyncSuccess", "Count"),
             ("BytesDownloaded", "Bytes"), ("FilesFailed", "Count")],
            {"VaultID": v["id"], "FunctionName": FUNCTION, "SyncDuration": v["duration_ms"] / 1000,
             "FilesProcessed": v["created"] + v["updated"] + v["deleted"],
             "SyncSuccess": 1 if v["ok"] else 0, "BytesDownloaded": v["bytes_downloaded"],
             "FilesFailed": v["failed"]})
    if http:
        return {"statusCode": status, "headers": {"Content-Type": "application/json"},
                "body": json.dumps(body)}
    return body


def main():
    global cold, context
    try:
        config()
    except ValueError as error:
        log("ERROR", str(error))
        post("/init/error", {"errorMessage": str(error), "errorType": "Obsync.ConfigError"},
             "Obsync.ConfigError")
        sys.exit(1)
    while True:
        with urllib.request.urlopen(API + "/invocation/next", timeout=None) as reply:
            request_id = reply.headers["Lambda-Runtime-Aws-Request-Id"]
            context = {
                "cold_start": cold, "function_name": FUNCTION, "function_memory_size": MEMORY,
                "function_arn": reply.headers["Lambda-Runtime-Invoked-Function-Arn"],
                "function_request_id": request_id,
                "xray_trace_id": reply.headers["Lambda-Runtime-Trace-Id"],
            }
            raw = reply.read()
        if cold:
            emf(["FunctionName"], [("ColdStart", "Count")], {"FunctionName": FUNCTION, "ColdStart": 1})
        try:
            answer = handle(request_id, raw)
        except Exception as error:  # a bug: InternalError, the loop goes on
            log("ERROR", f"internal error: {type(error).__name__} {error}")
            post(f"/invocation/{request_id}/error",
                 {"errorMessage": "internal error", "errorType": "Obsync.InternalError", "stackTrace": []},
                 "Obsync.InternalError")
            answer = None
        if answer is not None:
            post(f"/invocation/{request_id}/response", answer)
        log("INFO", "invocation done")
        cold = False


if __name__ == "__main__":
    main()
