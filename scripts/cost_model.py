#!/usr/bin/env python3
"""The monthly AWS cost of an Obsync deployment: the formulas of docs/cost.md, as a program.

    scripts/cost_model.py                      # the three users of docs/cost.md, as a table
    scripts/cost_model.py --json               # the same, machine-readable
    scripts/cost_model.py --vaults 3 --files 5000 --runs-per-day 4 --changed 0.01 \\
        --avg-file-kb 40 --memory-mb 512 --arch arm64 [--no-vault-metrics] [--free-tier]

Every price is a constant below (us-east-1, as published by AWS in December 2026; check the
pricing pages before you rely on them). Every measured figure is a constant with the command that
measured it. Every assumption (network latencies, bandwidth, file sizes) is a parameter.
Nothing here calls AWS.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass, field

# ---- prices, us-east-1 (USD) -------------------------------------------------------------------
LAMBDA_GB_SECOND = {"arm64": 0.0000133334, "x86_64": 0.0000166667}
LAMBDA_PER_REQUEST = 0.20 / 1e6
S3_STANDARD_GB_MONTH = 0.023
S3_PUT_LIST = 0.005 / 1000  # PUT, COPY, POST, LIST (and multipart Create/UploadPart/Complete)
S3_GET_HEAD = 0.0004 / 1000  # GET, HEAD, everything else that is not free (DELETE is free)
DDB_WRITE_UNIT = 0.625 / 1e6  # on-demand write request unit
DDB_READ_UNIT = 0.125 / 1e6  # on-demand read request unit
DDB_GB_MONTH = 0.25
DDB_PITR_GB_MONTH = 0.20
SECRET_MONTH = 0.40
SECRET_PER_CALL = 0.05 / 10_000
CW_CUSTOM_METRIC_MONTH = 0.30  # first 10,000 metrics; a metric = name x dimension values
CW_ALARM_MONTH = 0.10  # standard resolution
CW_LOGS_INGEST_GB = 0.50
APIGW_REST_PER_REQUEST = 3.50 / 1e6
SQS_PER_REQUEST = 0.40 / 1e6  # standard queue; each 64 KB of a request's payload is one request
DAYS_PER_MONTH = 30.4

# Always-free allowances, applied only with --free-tier.
FREE = {"lambda_gb_s": 400_000, "lambda_requests": 1_000_000, "cw_metrics": 10, "cw_alarms": 10,
        "cw_logs_gb": 5, "sqs_requests": 1_000_000}

# ---- measured (docs/performance.md, "Lambda function"; bench/run_lambda_bench.sh) ---------------
INIT_S = 0.015  # exec to first GET /next, median 14.2 ms; billed (custom runtime INIT)
SCRYPT_FULL_CORE_S = 0.168  # one vault key derivation on one full core (make bench, crypto)
FUNCTION_CPU_PER_VAULT_S = 0.036  # CPU of a warm no-change invocation, one vault
AWS_CALLS_PER_VAULT = {"s3": 7, "dynamodb": 10}  # per vault run without changes (counting proxy)
SECRET_READS_PER_COLD_RUN = 1
OBSIDIAN_CALLS_PER_VAULT = 4  # sign-in (once per cold run), vault list, access, WebSocket init
STATE_ITEM_BYTES = 200  # one file's state item in DynamoDB (path, uid, mtime, size, hash, keys)
LOG_BYTES_PER_VAULT = 3_000  # JSON log lines + EMF records of one vault run
VAULT_METRIC_NAMES = 5  # SyncDuration, FilesProcessed, SyncSuccess, BytesDownloaded, FilesFailed
# The scale-out's metrics (issue #13) that exist every month: MessagesQueued, emitted by every
# dispatch. PermanentFailures, Continuations and ContinuationStalled exist only in a month in which
# they happen (not counted).
QUEUE_METRIC_NAMES = 1
# template.yaml's AWS::CloudWatch::Alarm resources (cost_model_test counts them): SyncSuccess,
# function errors, the failure queue, the dead-letter queue, ContinuationStalled, the work
# queue's oldest message.
ALARMS = 6
# SQS requests per vault per run through the work queue (template.yaml, issue #13): its message
# sent (SendMessageBatch takes 10 a request: counted as one each, to be safe), the event source
# mapping's ReceiveMessage and DeleteMessage. A busy vault adds a ChangeMessageVisibility and a
# receive; each continuation (a further invocation) another message.
SQS_REQUESTS_PER_VAULT = 3
FULL_CORE_MB = 1769  # Lambda gives one full vCPU at 1,769 MB
# CPU per MB of file content on one full core: SHA-256 (1.5 GiB/s) + AES-GCM decryption (4 GB/s)
# + TLS in from Obsidian and out to S3 (AES-GCM again, twice): about 1.4 ms (make bench, crypto).
CPU_PER_MB_S = 0.0014


@dataclass
class Scenario:
    name: str
    vaults: int
    files_per_vault: int
    avg_file_kb: float
    runs_per_day: float
    changed_share: float  # of the files, per run
    first_sync: bool = False  # a one-off complete sync instead of a monthly schedule
    memory_mb: int = 512
    arch: str = "arm64"
    vault_metrics: bool = True
    api_calls_per_month: int = 0
    # Assumptions about the network (not measurable here; see docs/cost.md).
    aws_call_s: float = 0.015  # one S3/DynamoDB/Secrets Manager request in-region
    obsidian_rtt_s: float = 0.080  # one round trip to Obsidian's servers
    download_mb_s: float = 50.0  # aggregate download rate from Obsidian
    sessions: int = 4  # OBSYNC_CONCURRENCY
    # Lambda's event source mapping long-polls the work queue also while it is empty, and SQS
    # bills those receives: pollers x one 20 s wait after another, all month. AWS does not
    # publish the number of pollers of an idle mapping; 5 is an assumption.
    esm_pollers: int = 5
    esm_wait_s: float = 20.0


@dataclass
class Estimate:
    scenario: str
    runs: float
    seconds_per_run: float
    gb_seconds: float
    lines: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.lines.values())


def estimate(s: Scenario, free_tier: bool = False) -> Estimate:
    runs = 1.0 if s.first_sync else s.runs_per_day * DAYS_PER_MONTH
    changed = s.files_per_vault if s.first_sync else math.ceil(s.files_per_vault * s.changed_share)
    cpu_share = min(1.0, s.memory_mb / FULL_CORE_MB)

    # Duration of one run (every scheduled run is assumed cold: environments idle for hours are
    # reclaimed, so each run signs in, reads the secret and derives the vault keys again).
    per_vault = (
        sum(AWS_CALLS_PER_VAULT.values()) * s.aws_call_s
        + OBSIDIAN_CALLS_PER_VAULT * 2 * s.obsidian_rtt_s  # TLS handshake + request
        + (SCRYPT_FULL_CORE_S + FUNCTION_CPU_PER_VAULT_S) / cpu_share
        + changed * s.obsidian_rtt_s / s.sessions  # one pull round trip per file per session
        + changed * s.avg_file_kb / 1024 / s.download_mb_s
        + changed * s.avg_file_kb / 1024 * CPU_PER_MB_S / cpu_share
        + changed * s.aws_call_s / s.sessions  # the object PUT, overlapped per session
    )
    seconds = INIT_S + SECRET_READS_PER_COLD_RUN * s.aws_call_s + s.vaults * per_vault
    invocations = runs * max(1, math.ceil(seconds / 870))  # 900 s timeout minus the margin
    gb_s = runs * seconds * s.memory_mb / 1024

    state_bytes = s.vaults * s.files_per_vault * STATE_ITEM_BYTES
    data_gb = s.vaults * s.files_per_vault * s.avg_file_kb / 1024 / 1024
    changed_gb_month = runs * s.vaults * changed * s.avg_file_kb / 1024 / 1024
    # Noncurrent versions live 30 days: a month of changes, on average, is what they hold.
    version_gb = 0 if s.first_sync else changed_gb_month

    lines: dict[str, float] = {}
    lambda_gb_s = gb_s - (FREE["lambda_gb_s"] if free_tier else 0)
    lambda_req = invocations - (FREE["lambda_requests"] if free_tier else 0)
    lines["lambda compute"] = max(0.0, lambda_gb_s) * LAMBDA_GB_SECOND[s.arch]
    lines["lambda requests"] = max(0.0, lambda_req) * LAMBDA_PER_REQUEST

    s3_base = runs * s.vaults * AWS_CALLS_PER_VAULT["s3"]
    s3_puts = runs * s.vaults * changed
    lines["s3 requests"] = (s3_base / 2 + s3_puts) * S3_PUT_LIST + s3_base / 2 * S3_GET_HEAD
    lines["s3 storage"] = (data_gb + version_gb) * S3_STANDARD_GB_MONTH

    query_units = math.ceil(s.files_per_vault * STATE_ITEM_BYTES / 4096)  # strongly consistent
    read_units = runs * s.vaults * (query_units + 2)
    # A checkpoint writes items in TransactWriteItems: 2 units per item up to 1 KB, plus the
    # lease, the cursor and the ConditionCheck (about 10 units per vault run).
    write_units = runs * s.vaults * (2 * changed + 10)
    lines["dynamodb requests"] = read_units * DDB_READ_UNIT + write_units * DDB_WRITE_UNIT
    lines["dynamodb storage + PITR"] = state_bytes / 1e9 * (DDB_GB_MONTH + DDB_PITR_GB_MONTH)

    lines["secrets manager"] = (0 if s.first_sync else SECRET_MONTH) + \
        runs * SECRET_READS_PER_COLD_RUN * SECRET_PER_CALL

    metrics = 1 + VAULT_METRIC_NAMES * (1 + (s.vaults if s.vault_metrics else 0)) \
        + QUEUE_METRIC_NAMES
    alarms = ALARMS
    logs_gb = runs * s.vaults * LOG_BYTES_PER_VAULT / 1e9
    if free_tier:
        metrics = max(0, metrics - FREE["cw_metrics"])
        alarms = max(0, alarms - FREE["cw_alarms"])
        logs_gb = max(0.0, logs_gb - FREE["cw_logs_gb"])
    if s.first_sync:
        metrics = alarms = 0  # counted with the schedule that follows
    lines["cloudwatch metrics"] = metrics * CW_CUSTOM_METRIC_MONTH
    lines["cloudwatch alarms"] = alarms * CW_ALARM_MONTH
    lines["cloudwatch logs"] = logs_gb * CW_LOGS_INGEST_GB
    lines["api gateway"] = s.api_calls_per_month * APIGW_REST_PER_REQUEST

    # The work queue: each vault's requests, one message more per continuation, and (with the
    # schedule, not for a one-off first sync) the mapping's polling of the empty queue.
    sqs_requests = (runs * s.vaults + (invocations - runs)) * SQS_REQUESTS_PER_VAULT
    if not s.first_sync:
        sqs_requests += s.esm_pollers * DAYS_PER_MONTH * 86400 / s.esm_wait_s
    if free_tier:
        sqs_requests = max(0.0, sqs_requests - FREE["sqs_requests"])
    lines["sqs requests"] = sqs_requests * SQS_PER_REQUEST
    return Estimate(s.name, runs, seconds, gb_s, lines)


SCENARIOS = [
    Scenario("one 1,000-note vault every 6 hours", vaults=1, files_per_vault=1_000, avg_file_kb=5,
             runs_per_day=4, changed_share=0.01, api_calls_per_month=30),
    Scenario("ten 10,000-file vaults every hour", vaults=10, files_per_vault=10_000,
             avg_file_kb=20, runs_per_day=24, changed_share=0.001, api_calls_per_month=100),
    Scenario("first complete sync of a 20 GB vault", vaults=1, files_per_vault=20_000,
             avg_file_kb=1024, runs_per_day=0, changed_share=1.0, first_sync=True),
]

# The plan's estimate: 1M invocations x 5 s x 1 GB, x86_64.
PLAN = {"invocations": 1_000_000, "seconds": 5, "memory_gb": 1}


def plan_lambda_cost() -> float:
    gb_s = PLAN["invocations"] * PLAN["seconds"] * PLAN["memory_gb"]
    return gb_s * LAMBDA_GB_SECOND["x86_64"] + PLAN["invocations"] * LAMBDA_PER_REQUEST


def table(estimates: list[Estimate]) -> str:
    names = list(estimates[0].lines)
    head = "| | " + " | ".join(e.scenario for e in estimates) + " |"
    out = [head, "|---|" + "---:|" * len(estimates)]
    out.append("| runs per month | " + " | ".join(f"{e.runs:,.0f}" for e in estimates) + " |")
    out.append("| seconds per run (model) | " +
               " | ".join(f"{e.seconds_per_run:,.1f}" for e in estimates) + " |")
    out.append("| GB-seconds per month | " +
               " | ".join(f"{e.gb_seconds:,.0f}" for e in estimates) + " |")
    for name in names:
        out.append(f"| {name} | " + " | ".join(f"${e.lines[name]:,.4f}" for e in estimates) + " |")
    out.append("| **total per month** | " +
               " | ".join(f"**${e.total:,.2f}**" for e in estimates) + " |")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--free-tier", action="store_true", help="subtract the always-free tiers")
    parser.add_argument("--vaults", type=int)
    parser.add_argument("--files", type=int, help="files per vault")
    parser.add_argument("--avg-file-kb", type=float, default=10)
    parser.add_argument("--runs-per-day", type=float, default=4)
    parser.add_argument("--changed", type=float, default=0.01, help="share of files changed per run")
    parser.add_argument("--memory-mb", type=int, default=512)
    parser.add_argument("--arch", choices=sorted(LAMBDA_GB_SECOND), default="arm64")
    parser.add_argument("--no-vault-metrics", action="store_true")
    parser.add_argument("--first-sync", action="store_true")
    args = parser.parse_args(argv)

    if args.vaults is not None or args.files is not None:
        scenarios = [Scenario("custom", vaults=args.vaults or 1, files_per_vault=args.files or 1000,
                              avg_file_kb=args.avg_file_kb, runs_per_day=args.runs_per_day,
                              changed_share=args.changed, first_sync=args.first_sync,
                              memory_mb=args.memory_mb, arch=args.arch,
                              vault_metrics=not args.no_vault_metrics)]
    else:
        scenarios = []
        for s in SCENARIOS:
            s.memory_mb, s.arch, s.vault_metrics = args.memory_mb, args.arch, not args.no_vault_metrics
            scenarios.append(s)
    estimates = [estimate(s, args.free_tier) for s in scenarios]
    if args.json:
        print(json.dumps({"plan_lambda_usd": plan_lambda_cost(),
                          "estimates": [{**asdict(e), "total": e.total} for e in estimates]},
                         indent=2))
    else:
        print(table(estimates))
        print(f"\nThe plan's Lambda line (1M x 5 s x 1 GB, x86_64): ${plan_lambda_cost():,.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
