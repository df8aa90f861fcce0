#!/usr/bin/env python3
"""The monthly AWS cost of an Obsync deployment: the formulas of docs/cost.md, as a program.

    scripts/cost_model.py                      # the three users of docs/cost.md, as a table
    scripts/cost_model.py --json               # the same, machine-readable
    scripts/cost_model.py --vaults 3 --files 5000 --runs-per-day 4 --changed 0.01 \\
        --avg-file-kb 40 --memory-mb 512 --arch arm64 [--no-vault-metrics] [--free-tier]
    scripts/cost_model.py --scale              # 10,000 vaults through the work queue (docs/scale.md)
    scripts/cost_model.py --scale --accounts 1000 --max-concurrency 8 [--vaults ... --files ...]

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
from dataclasses import asdict, dataclass, field, replace

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
# queue's oldest message, BackupDrift (issue #14).
ALARMS = 7
# CloudWatch bills an alarm per metric it evaluates: BackupDriftAlarm's metric math reads two
# (BackupDrift - BackupDriftPending), every other alarm one.
ALARM_METRICS = ALARMS + 1
# The verify's metrics (issue #14), per dimension set like the vault metrics: BackupDrift and
# BackupDriftPending, from the daily scheduled verify.
VERIFY_METRIC_NAMES = 2
# The template's scheduled verify (VerifyScheduleExpression, VerifyDeepPercent): once a day, every
# object HEADed, 1 % downloaded, 16 requests in flight.
VERIFY_RUNS_PER_DAY = 1
VERIFY_DEEP_SHARE = 0.01
VERIFY_IN_FLIGHT = 16
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


def vault_seconds(s: Scenario, changed: int, cpu_share: float) -> float:
    """One vault's run with `changed` files to fetch, cold (sign-in, scrypt): the same formula for
    a vault of an inline run (estimate) and for a vault's own invocation (scale_estimate)."""
    return (
        sum(AWS_CALLS_PER_VAULT.values()) * s.aws_call_s
        + OBSIDIAN_CALLS_PER_VAULT * 2 * s.obsidian_rtt_s  # TLS handshake + request
        + (SCRYPT_FULL_CORE_S + FUNCTION_CPU_PER_VAULT_S) / cpu_share
        + changed * s.obsidian_rtt_s / s.sessions  # one pull round trip per file per session
        + changed * s.avg_file_kb / 1024 / s.download_mb_s
        + changed * s.avg_file_kb / 1024 * CPU_PER_MB_S / cpu_share
        + changed * s.aws_call_s / s.sessions  # the object PUT, overlapped per session
    )


def verify_cost(s: Scenario, cpu_share: float) -> float:
    """A month of the scheduled verify: one invocation a day signs in, takes each vault's snapshot,
    reads its state, lists and HEADs every object and downloads the deep share."""
    files = s.vaults * s.files_per_vault
    deep = math.ceil(files * VERIFY_DEEP_SHARE)
    seconds = INIT_S + SECRET_READS_PER_COLD_RUN * s.aws_call_s + s.vaults * (
        OBSIDIAN_CALLS_PER_VAULT * 2 * s.obsidian_rtt_s
        + (SCRYPT_FULL_CORE_S + FUNCTION_CPU_PER_VAULT_S) / cpu_share) \
        + (files + deep) * s.aws_call_s / VERIFY_IN_FLIGHT \
        + deep * s.avg_file_kb / 1024 * CPU_PER_MB_S / cpu_share
    runs = VERIFY_RUNS_PER_DAY * DAYS_PER_MONTH
    lists = s.vaults * math.ceil(s.files_per_vault / 1000)
    query_units = math.ceil(s.files_per_vault * STATE_ITEM_BYTES / 4096)
    return runs * (seconds * s.memory_mb / 1024 * LAMBDA_GB_SECOND[s.arch] + LAMBDA_PER_REQUEST
                   + (files + deep) * S3_GET_HEAD + lists * S3_PUT_LIST
                   + s.vaults * (query_units + 1) * DDB_READ_UNIT + SECRET_PER_CALL)


def estimate(s: Scenario, free_tier: bool = False) -> Estimate:
    runs = 1.0 if s.first_sync else s.runs_per_day * DAYS_PER_MONTH
    changed = s.files_per_vault if s.first_sync else math.ceil(s.files_per_vault * s.changed_share)
    cpu_share = min(1.0, s.memory_mb / FULL_CORE_MB)

    # Duration of one run (every scheduled run is assumed cold: environments idle for hours are
    # reclaimed, so each run signs in, reads the secret and derives the vault keys again).
    per_vault = vault_seconds(s, changed, cpu_share)
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

    metrics = 1 + (VAULT_METRIC_NAMES + VERIFY_METRIC_NAMES) \
        * (1 + (s.vaults if s.vault_metrics else 0)) + QUEUE_METRIC_NAMES
    alarms = ALARM_METRICS
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
    # The free tiers are left to the backup's own lines: the verify's share of them is small.
    lines["verify (daily, 1 % read)"] = 0 if s.first_sync else verify_cost(s, cpu_share)
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


# ---- scale out: one vault per invocation through the work queue (issue #13, docs/scale.md) ------
# The schedule's invocation dispatches: one message per account under ALLOWED_SECRET_PREFIX
# (ListSecrets, SendMessageBatch); each account message is an invocation that signs in, lists the
# account's vaults and queues one message per vault; each vault message is an invocation of its
# own (BatchSize 1) that syncs that vault. Lambda's event source mapping runs at most
# MaximumConcurrency of them at once.
MAX_INVOCATION_S = 870  # the 900 s timeout minus the deadline margin (30 s): then a continuation
SLOT_CALLS_PER_VAULT = 2  # OBSYNC_ACCOUNT_CONCURRENCY > 0: a conditional write takes a slot, one frees it
ACCOUNT_MESSAGE_OBSIDIAN_CALLS = 2  # sign-in, vault list
LIST_SECRETS_PAGE = 100  # ListSecrets MaxResults
SQS_SEND_BATCH = 10  # SendMessageBatch
# Lambda's SQS event source mapping (docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html):
# five concurrent batches at first, up to 300 more per minute, at most 1,000 per mapping.
ESM_START_CONCURRENCY = 5
ESM_SCALE_PER_MINUTE = 300
ESM_MAX_CONCURRENCY = 1000
# Service limits the round is checked against (AWS documentation, December 2026).
S3_PUTS_PER_PREFIX_S = 3500  # PUT/COPY/POST/DELETE per second per partitioned prefix
S3_GETS_PER_PREFIX_S = 5500  # GET/HEAD per second per partitioned prefix
DDB_PARTITION_WCU_S = 1000  # per partition (a vault's state is one partition key)
DDB_PARTITION_RCU_S = 3000
DDB_NEW_TABLE_WCU_S = 4000  # a new on-demand table, before it has seen a higher peak
DDB_NEW_TABLE_RCU_S = 12000
# CloudWatch custom metrics by the month, in tiers: (metrics in the tier, price each).
CW_CUSTOM_METRIC_TIERS = [(10_000, 0.30), (240_000, 0.10), (750_000, 0.05), (math.inf, 0.02)]


@dataclass
class ScaleScenario(Scenario):
    accounts: int = 1  # Obsidian accounts (secrets); the vaults are spread evenly over them
    max_concurrency: int = 4  # the mapping's MaximumConcurrency (template: QueueMaximumConcurrency)
    account_concurrency: int = 2  # OBSYNC_ACCOUNT_CONCURRENCY (template: AccountConcurrency)
    window_h: float = 6.0  # the schedule's interval: a round should end within it


@dataclass
class ScaleEstimate:
    scenario: str
    first_sync: bool
    vault_s: float  # one vault's invocation (or its invocations together, with continuations)
    invocations_per_vault: int
    account_s: float  # one account message's invocation
    dispatch_s: float
    work_s: float  # every invocation of the round, added up
    round_s: float  # at the scenario's max_concurrency
    needed_concurrency: int | None  # the least MaximumConcurrency whose round ends within window_h
    obsidian_requests_per_vault: float
    sign_ins: int  # per round, when every vault run signs in (an upper bound)
    lines: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.lines.values())


def custom_metrics_cost(metrics: int) -> float:
    cost, left = 0.0, metrics
    for size, price in CW_CUSTOM_METRIC_TIERS:
        take = min(left, size)
        cost += take * price
        left -= take
        if left <= 0:
            break
    return cost


def round_seconds(e: ScaleEstimate, concurrency: int) -> float:
    """A round's wall time at a MaximumConcurrency: the dispatch, then the work spread over the
    invocations at once, plus the mapping's ramp-up (5 at first, +300 a minute) and the last
    invocation's tail (list scheduling: at most one invocation after the rest is done)."""
    c = max(1, min(concurrency, ESM_MAX_CONCURRENCY))
    start = min(c, ESM_START_CONCURRENCY)
    ramp = max(0, c - start) / ESM_SCALE_PER_MINUTE * 60
    ramp_loss = ramp * (1 - (start + c) / (2 * c))
    tail = min(e.vault_s / e.invocations_per_vault, MAX_INVOCATION_S)
    return e.dispatch_s + e.work_s / c + ramp_loss + tail


def scale_estimate(z: ScaleScenario, first_sync: bool = False) -> ScaleEstimate:
    """A scheduled round of z.vaults through the work queue (or the first one, a complete sync of
    every vault), and what a month of rounds costs (a one-off for the first sync)."""
    cpu_share = min(1.0, z.memory_mb / FULL_CORE_MB)
    changed = z.files_per_vault if first_sync else math.ceil(z.files_per_vault * z.changed_share)
    vaults_per_account = math.ceil(z.vaults / z.accounts)
    slots = SLOT_CALLS_PER_VAULT if z.account_concurrency > 0 else 0
    # A vault's invocation: its run (cold: sign-in, scrypt, as in estimate), its account's secret
    # and, with a per-account limit, the slot. Every vault run is counted as signing in and reading
    # the secret: with more accounts than environments a warm environment seldom holds the token.
    vault_s = vault_seconds(z, changed, cpu_share) + (SECRET_READS_PER_COLD_RUN + slots) * z.aws_call_s
    invocations_per_vault = max(1, math.ceil(vault_s / MAX_INVOCATION_S))
    account_s = (SECRET_READS_PER_COLD_RUN * z.aws_call_s
                 + ACCOUNT_MESSAGE_OBSIDIAN_CALLS * 2 * z.obsidian_rtt_s
                 + math.ceil(vaults_per_account / SQS_SEND_BATCH) * z.aws_call_s)
    dispatch_s = (INIT_S + SECRET_READS_PER_COLD_RUN * z.aws_call_s
                  + math.ceil(z.accounts / LIST_SECRETS_PAGE) * z.aws_call_s
                  + math.ceil(z.accounts / SQS_SEND_BATCH) * z.aws_call_s)
    work_s = z.vaults * vault_s + z.accounts * account_s
    e = ScaleEstimate(z.name, first_sync, vault_s, invocations_per_vault, account_s, dispatch_s,
                      work_s, 0.0, None,
                      # list, access, init (+ sign-in), one pull per file, an init per extra session
                      OBSIDIAN_CALLS_PER_VAULT + changed + max(0, min(z.sessions, changed) - 1),
                      z.vaults + z.accounts)
    e.round_s = round_seconds(e, z.max_concurrency)
    window = z.window_h * 3600
    e.needed_concurrency = next((c for c in range(2, ESM_MAX_CONCURRENCY + 1)
                                 if round_seconds(e, c) <= window), None)

    rounds = 1.0 if first_sync else z.runs_per_day * DAYS_PER_MONTH
    invocations = 1 + z.accounts + z.vaults * invocations_per_vault
    lines: dict[str, float] = {}
    gb_s = rounds * (dispatch_s + work_s + z.max_concurrency * INIT_S) * z.memory_mb / 1024
    lines["lambda compute"] = gb_s * LAMBDA_GB_SECOND[z.arch]
    lines["lambda requests"] = rounds * invocations * LAMBDA_PER_REQUEST
    sqs = rounds * (z.accounts + z.vaults * invocations_per_vault) * SQS_REQUESTS_PER_VAULT
    if not first_sync:
        sqs += z.esm_pollers * DAYS_PER_MONTH * 86400 / z.esm_wait_s
    lines["sqs requests"] = sqs * SQS_PER_REQUEST
    s3_base = rounds * z.vaults * invocations_per_vault * AWS_CALLS_PER_VAULT["s3"]
    s3_puts = rounds * z.vaults * changed
    lines["s3 requests"] = (s3_base / 2 + s3_puts) * S3_PUT_LIST + s3_base / 2 * S3_GET_HEAD
    # Storage is a monthly line: the first round's column leaves it to the schedule's.
    data_gb = z.vaults * z.files_per_vault * z.avg_file_kb / 1024 / 1024
    version_gb = rounds * z.vaults * changed * z.avg_file_kb / 1024 / 1024
    lines["s3 storage"] = 0 if first_sync else (data_gb + version_gb) * S3_STANDARD_GB_MONTH
    query_units = math.ceil(z.files_per_vault * STATE_ITEM_BYTES / 4096)
    read_units = rounds * z.vaults * invocations_per_vault * (query_units + 2)
    write_units = rounds * z.vaults * (2 * changed + invocations_per_vault * (10 + slots))
    lines["dynamodb requests"] = read_units * DDB_READ_UNIT + write_units * DDB_WRITE_UNIT
    state_bytes = z.vaults * z.files_per_vault * STATE_ITEM_BYTES
    lines["dynamodb storage + PITR"] = 0 if first_sync else \
        state_bytes / 1e9 * (DDB_GB_MONTH + DDB_PITR_GB_MONTH)
    secret_reads = rounds * (1 + z.accounts + z.vaults * invocations_per_vault)
    lines["secrets manager"] = (0 if first_sync else z.accounts * SECRET_MONTH) + \
        secret_reads * SECRET_PER_CALL
    # The scheduled verify covers the deployment's own account only (not the accounts under
    # ALLOWED_SECRET_PREFIX): its metrics are counted function-wide, not per vault.
    metrics = 1 + VAULT_METRIC_NAMES * (1 + (z.vaults if z.vault_metrics else 0)) \
        + VERIFY_METRIC_NAMES + QUEUE_METRIC_NAMES
    lines["cloudwatch metrics"] = 0 if first_sync else custom_metrics_cost(metrics)
    lines["cloudwatch alarms"] = 0 if first_sync else ALARM_METRICS * CW_ALARM_MONTH
    logs_gb = rounds * (z.accounts + z.vaults * invocations_per_vault) * LOG_BYTES_PER_VAULT / 1e9
    lines["cloudwatch logs"] = logs_gb * CW_LOGS_INGEST_GB
    e.lines = lines
    return e


def rates(e: ScaleEstimate, z: ScaleScenario, concurrency: int) -> dict[str, float]:
    """Requests per second while `concurrency` vault invocations run at once (the round's steady
    state), against the limits above."""
    changed = z.files_per_vault if e.first_sync else math.ceil(z.files_per_vault * z.changed_share)
    per_s = concurrency / e.vault_s  # vault runs finishing per second
    slots = SLOT_CALLS_PER_VAULT if z.account_concurrency > 0 else 0
    query_units = math.ceil(z.files_per_vault * STATE_ITEM_BYTES / 4096)
    return {
        "obsidian requests/s": per_s * e.obsidian_requests_per_vault,
        "obsidian sign-ins/s": per_s * e.invocations_per_vault,
        "s3 puts/s": per_s * (changed + e.invocations_per_vault * AWS_CALLS_PER_VAULT["s3"] / 2),
        "s3 gets/s": per_s * e.invocations_per_vault * AWS_CALLS_PER_VAULT["s3"] / 2,
        "dynamodb wcu/s": per_s * (2 * changed + e.invocations_per_vault * (10 + slots)),
        "dynamodb rcu/s": per_s * e.invocations_per_vault * (query_units + 2),
        # One vault's partition: its own writes over its own run.
        "dynamodb wcu/s of one vault": (2 * changed + e.invocations_per_vault * 10) / e.vault_s,
    }


# The 10,000 vaults of docs/scale.md: the assumptions are these parameters.
SCALE_SCENARIO = ScaleScenario(
    "10,000 vaults every 6 hours", vaults=10_000, files_per_vault=1_000, avg_file_kb=50,
    runs_per_day=4, changed_share=0.003, accounts=2_000, max_concurrency=4, account_concurrency=2,
    vault_metrics=False)
SCALE_CONCURRENCIES = [2, 4, 8, 16, 32, 64]


def hours(seconds: float) -> str:
    return f"{seconds / 3600:,.2f} h" if seconds >= 3600 else f"{seconds / 60:,.1f} min"


def scale_tables(z: ScaleScenario) -> str:
    inc, first = scale_estimate(z), scale_estimate(z, first_sync=True)
    out = ["| | scheduled round (incremental) | first round (complete sync of every vault) |",
           "|---|---:|---:|"]
    out.append(f"| files fetched per vault | {math.ceil(z.files_per_vault * z.changed_share):,} | "
               f"{z.files_per_vault:,} |")
    out.append(f"| one vault's invocation(s), s | {inc.vault_s:,.2f} | {first.vault_s:,.1f} |")
    out.append(f"| invocations per vault | {inc.invocations_per_vault} | {first.invocations_per_vault} |")
    out.append(f"| one account message's invocation, s | {inc.account_s:,.2f} | {first.account_s:,.2f} |")
    out.append(f"| the dispatch, s | {inc.dispatch_s:,.2f} | {first.dispatch_s:,.2f} |")
    out.append(f"| invocations per round | {1 + z.accounts + z.vaults * inc.invocations_per_vault:,} | "
               f"{1 + z.accounts + z.vaults * first.invocations_per_vault:,} |")
    out.append(f"| work per round (invocation-hours) | {inc.work_s / 3600:,.1f} | {first.work_s / 3600:,.1f} |")
    for c in SCALE_CONCURRENCIES:
        out.append(f"| round at MaximumConcurrency {c} | {hours(round_seconds(inc, c))} | "
                   f"{hours(round_seconds(first, c))} |")
    need = lambda e: "over 1,000" if e.needed_concurrency is None else f"{e.needed_concurrency}"  # noqa: E731
    out.append(f"| least MaximumConcurrency for a round within {z.window_h:g} h | {need(inc)} | {need(first)} |")
    out.append(f"| Obsidian requests per vault run | {inc.obsidian_requests_per_vault:,.0f} | "
               f"{first.obsidian_requests_per_vault:,.0f} |")
    out.append(f"| Obsidian sign-ins per round (at most) | {inc.sign_ins:,} | {first.sign_ins:,} |")

    out += ["", f"| at MaximumConcurrency {z.max_concurrency} | scheduled round | first round | limit |",
            "|---|---:|---:|---|"]
    r_inc, r_first = rates(inc, z, z.max_concurrency), rates(first, z, z.max_concurrency)
    limits = {"obsidian requests/s": "unknown (not published)", "obsidian sign-ins/s": "unknown",
              "s3 puts/s": f"{S3_PUTS_PER_PREFIX_S:,} per prefix", "s3 gets/s": f"{S3_GETS_PER_PREFIX_S:,} per prefix",
              "dynamodb wcu/s": f"{DDB_NEW_TABLE_WCU_S:,} (a new on-demand table)",
              "dynamodb rcu/s": f"{DDB_NEW_TABLE_RCU_S:,} (a new on-demand table)",
              "dynamodb wcu/s of one vault": f"{DDB_PARTITION_WCU_S:,} per partition"}
    for name in r_inc:
        out.append(f"| {name} | {r_inc[name]:,.1f} | {r_first[name]:,.1f} | {limits[name]} |")

    out += ["", "| cost | a month of scheduled rounds | the first round, once |", "|---|---:|---:|"]
    for name in inc.lines:
        out.append(f"| {name} | ${inc.lines[name]:,.2f} | ${first.lines[name]:,.2f} |")
    out.append(f"| **total** | **${inc.total:,.2f}** | **${first.total:,.2f}** |")

    out += ["", "| a month of scheduled rounds, if … | total | of which Secrets Manager | "
            "of which CloudWatch metrics |",
            "|---|---:|---:|---:|"]
    for label, variant in scale_variants(z):
        e = scale_estimate(variant)
        out.append(f"| {label} | ${e.total:,.2f} | ${e.lines['secrets manager']:,.2f} | "
                   f"${e.lines['cloudwatch metrics']:,.2f} |")
    return "\n".join(out)


def scale_variants(z: ScaleScenario) -> list[tuple[str, ScaleScenario]]:
    vpa = math.ceil(z.vaults / z.accounts)
    return [
        (f"as assumed ({z.accounts:,} accounts, {vpa} vaults each)", z),
        (f"{math.ceil(z.vaults / 10):,} accounts (10 vaults each, Sync Plus)",
         replace(z, accounts=math.ceil(z.vaults / 10))),
        (f"{z.vaults:,} accounts (1 vault each, Sync Standard)", replace(z, accounts=z.vaults)),
        ("VaultMetrics=true (5 metrics per vault)", replace(z, vault_metrics=True)),
        ("hourly instead of every 6 hours", replace(z, runs_per_day=24, window_h=1)),
        ("x86_64 instead of arm64", replace(z, arch="x86_64")),
    ]


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
    parser.add_argument("--avg-file-kb", type=float, help="[10; --scale: 50]")
    parser.add_argument("--runs-per-day", type=float, help="[4]")
    parser.add_argument("--changed", type=float, help="share of files changed per run [0.01; --scale: 0.003]")
    parser.add_argument("--memory-mb", type=int, help="[512]")
    parser.add_argument("--arch", choices=sorted(LAMBDA_GB_SECOND), help="[arm64]")
    parser.add_argument("--no-vault-metrics", action="store_true")
    parser.add_argument("--first-sync", action="store_true")
    scale = parser.add_argument_group("scale out (docs/scale.md): one vault per invocation through the queue")
    scale.add_argument("--scale", action="store_true",
                       help="the 10,000 vaults of docs/scale.md (--vaults, --files, ... change them)")
    scale.add_argument("--accounts", type=int, help="Obsidian accounts [2,000]")
    scale.add_argument("--max-concurrency", type=int, help="the mapping's MaximumConcurrency [4]")
    scale.add_argument("--account-concurrency", type=int, help="OBSYNC_ACCOUNT_CONCURRENCY [2]")
    scale.add_argument("--window-h", type=float, help="the schedule's interval, hours [6]")
    scale.add_argument("--vault-metrics", action="store_true", help="OBSYNC_VAULT_METRICS=true")
    args = parser.parse_args(argv)

    if args.scale:
        z = SCALE_SCENARIO
        given = {"vaults": args.vaults, "files_per_vault": args.files, "avg_file_kb": args.avg_file_kb,
                 "runs_per_day": args.runs_per_day, "changed_share": args.changed,
                 "memory_mb": args.memory_mb, "arch": args.arch, "accounts": args.accounts,
                 "max_concurrency": args.max_concurrency, "account_concurrency": args.account_concurrency,
                 "window_h": args.window_h}
        z = replace(z, **{k: v for k, v in given.items() if v is not None})
        if args.vault_metrics:
            z = replace(z, vault_metrics=True)
        if any(given[k] is not None for k in given):
            z = replace(z, name="custom")
        if args.json:
            print(json.dumps({"scenario": asdict(z), "estimates": [
                {**asdict(e), "total": e.total} for e in (scale_estimate(z), scale_estimate(z, True))]},
                indent=2))
        else:
            print(scale_tables(z))
        return 0

    avg_file_kb = 10 if args.avg_file_kb is None else args.avg_file_kb
    runs_per_day = 4 if args.runs_per_day is None else args.runs_per_day
    changed = 0.01 if args.changed is None else args.changed
    memory_mb = 512 if args.memory_mb is None else args.memory_mb
    arch = args.arch or "arm64"
    if args.vaults is not None or args.files is not None:
        scenarios = [Scenario("custom", vaults=args.vaults or 1, files_per_vault=args.files or 1000,
                              avg_file_kb=avg_file_kb, runs_per_day=runs_per_day,
                              changed_share=changed, first_sync=args.first_sync,
                              memory_mb=memory_mb, arch=arch,
                              vault_metrics=not args.no_vault_metrics)]
    else:
        scenarios = []
        for s in SCENARIOS:
            s.memory_mb, s.arch, s.vault_metrics = memory_mb, arch, not args.no_vault_metrics
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
