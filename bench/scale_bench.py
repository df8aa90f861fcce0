#!/usr/bin/env python3
"""Scale-out benchmark (issue #13, "Measure"): one scheduled round through the work queue, drained
by W execution environments, on loopback.

Reuses tests/lambda/loopback.py (moto_server, obsync-fake-server), tests/lambda/runtime_emulator.py
(one RuntimeEmulator = one Lambda execution environment running build/obsync-lambda) and
tests/lambda/esm_driver.py (EventSourceMapping: Lambda's SQS event source mapping, one polling
thread per execution environment, so W workers = MaximumConcurrency W). Nothing here contacts
anything but 127.0.0.1. Started by bench/run_scale_bench.sh (which adds `unshare -n`).

Setup, once: one moto, one fake Obsidian server (--latency-ms on every reply) with A accounts and
V generated vaults spread over them round-robin (N notes each, 0.2-5 KB log-uniform, folders and
unicode names: bench/lambda_bench.py's generator, a seed per vault). The first account is the
function's own (OBSYNC_SECRET_ID); the others are secrets under ALLOWED_SECRET_PREFIX, so the
dispatch queues one *account message* each and a worker queues that account's vaults (the
deployment's path, docs/lambda.md "Scale out").

Then for each W of --workers, on a fresh bucket, state table and work queue + DLQ:
  round 1 (a complete first sync: the state is empty):
    1. one invocation of a separate environment with the EventBridge schedule's event: it
       dispatches (timed apart);
    2. W fresh (cold) worker environments; the ESM starts, and the clock runs from its start to
       the end of the last invocation (the drain is confirmed by esm_driver.wait_until_drained);
  round 2 (unless --rounds 1): the same again on the same bucket and table: the next scheduled
    round, in which nothing changed. Its environments are cold again, as on Lambda hours later
    (idle environments are reclaimed): each one reads the secret, signs in and derives the keys
    of the vaults it gets. (Here that happens by itself: the emulator starts a process with
    PR_SET_PDEATHSIG, so the workers' processes end with the ESM's threads when round 1's
    mapping stops; the dispatcher's is killed.)
Reported per W and round: wall time, files (from the function's "vault sync finished" records)
and files/s, vaults and vaults/min, invocations (vault messages + account messages + others),
peak concurrency (invocations at once, from the ESM), mean and p90 duration of the vault
invocations, the fake server's pulls and sign-ins, key derivations, CPU seconds of the function
processes, moto_server and the fake server in the round. Round 1 is checked: every file of every
vault is in the bucket, nothing is in the DLQ.
"""

from __future__ import annotations

import argparse
import ctypes  # noqa: F401  loaded here so the emulator's preexec_fn (die_with_parent) finds it
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests" / "lambda"))
sys.path.insert(0, str(HERE))

import esm_driver  # noqa: E402
import loopback  # noqa: E402
from lambda_bench import close_all, cpu_seconds, generate_vault, pctl, publish  # noqa: E402
from runtime_emulator import RuntimeEmulator  # noqa: E402

PREFIX = "backups"
VAULT_PASSWORD = "correct horse scale bench"
SCHEDULED_EVENT = json.loads((REPO / "tests" / "data" / "lambda-events" / "scheduled-event.json").read_text())


def log(msg: str) -> None:
    print(f"[scale-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.replace(" ", ",").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma list of numbers: {text!r}")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("at least one number, each at least 1")
    return values


class Account:
    def __init__(self, index: int, run_id: str):
        self.index = index
        self.name = "own" if index == 0 else f"acct{index:02d}"
        self.email = f"{self.name}-{run_id}@example.com"
        self.password = f"scale-bench-{self.name}-pw"
        self.vaults: list[str] = []
        self.secret_id = ""


def records(inv) -> list[dict]:
    return inv.result.json_logs() if inv.result is not None else []


def run_round(*, label: str, moto, fake, sqs, dispatcher: RuntimeEmulator, workers: list[RuntimeEmulator],
              queue: esm_driver.QueuePair, batch_size: int, drain_timeout: float,
              per_pid: dict[int, dict[str, float]], cpu_before: dict[str, float]) -> dict:
    """One scheduled round: dispatch, then drain the queue with the workers. Figures of the round."""
    mark = time.monotonic()
    dispatch = dispatcher.invoke(SCHEDULED_EVENT)
    if dispatch.kind != "response" or not isinstance(dispatch.payload, dict) or not dispatch.payload.get("dispatched"):
        raise RuntimeError(f"{label}: the dispatch failed: kind={dispatch.kind} payload={str(dispatch.payload)[:800]}\n"
                           + "\n".join(dispatch.logs[-20:]))
    body = dispatch.payload
    log(f"{label}: dispatch {dispatch.duration * 1000:.0f} ms ({'cold' if dispatch.cold else 'warm'}): "
        f"{body.get('vaults_queued')} vault and {body.get('accounts_queued')} account message(s)")

    mapping = esm_driver.EventSourceMapping(sqs, queue.url, queue.arn, workers, batch_size=batch_size)
    load_start = os.getloadavg()[0]
    start = time.monotonic()
    mapping.start()
    try:
        mapping.wait_until_drained(drain_timeout)
        drained = time.monotonic()
        # The function processes' CPU now, while they live: the emulator starts a process with
        # PR_SET_PDEATHSIG, so it dies with the ESM thread that started it when the mapping stops.
        pids = sorted({i.result.pid for i in mapping.invocations if i.result is not None and i.result.pid})
        cpu_functions = 0.0
        for pid in pids:
            now = cpu_seconds(pid)
            if now == now:  # not NaN
                cpu_functions += now - per_pid.get(pid, {}).get("cpu", 0.0)
                per_pid.setdefault(pid, {})["cpu"] = now
    finally:
        mapping.stop(120)
    if mapping.errors:
        raise RuntimeError(f"{label}: the ESM driver's loop failed:\n" + "\n".join(mapping.errors))
    invocations = sorted(mapping.invocations, key=lambda i: i.started_at)
    if not invocations:
        raise RuntimeError(f"{label}: no invocation")
    last_end = max(i.ended_at for i in invocations)
    wall = last_end - start

    # What each invocation did, from the function's own records.
    files = vaults = 0
    vault_durations, account_durations, other_durations = [], [], []
    fates: Counter = Counter()
    waits = continuations = cold = 0
    failed_invocations = []
    vault_ms = []
    for inv in invocations:
        docs = records(inv)
        duration = inv.ended_at - inv.started_at
        if inv.kind != "response" or inv.failed_ids or inv.batch_failure:
            failed_invocations.append(f"{inv.kind} {inv.batch_failure or ''} failed={inv.failed_ids}")
        if inv.result is not None and inv.result.cold:
            cold += 1
        is_account = all("vault_id" not in json.loads(b) for b in inv.bodies)
        ran_vault = False
        for doc in docs:
            message = doc.get("message")
            if message == "vault sync finished":
                files += int(doc.get("created", 0)) + int(doc.get("updated", 0)) + int(doc.get("deleted", 0))
                vaults += 1
                ran_vault = True
                vault_ms.append(doc.get("duration_ms"))
            elif message == "message finished":
                fates[doc.get("fate")] += 1
            elif message in ("message waits",  # a busy vault or a full account (since 06421dc)
                             "the account's slots are all taken: the message waits"):  # before it
                waits += 1
            elif message == "continuation queued":
                continuations += 1
        if is_account:
            account_durations.append(duration)
        elif ran_vault:
            vault_durations.append(duration)
        else:
            other_durations.append(duration)
    fake.settle()
    pulls = fake.pulls(start)
    # key_derivations in "invocation finished" counts since the process started.
    derivations = 0
    for inv in invocations:
        pid = inv.result.pid if inv.result is not None else None
        for doc in records(inv):
            if doc.get("message") == "invocation finished" and pid:
                value = int(doc.get("key_derivations", 0))
                derivations += value - int(per_pid.get(pid, {}).get("derivations", 0))
                per_pid.setdefault(pid, {})["derivations"] = value
    cpu_now = {"moto_server": cpu_seconds(moto.proc.pid), "fake_server": cpu_seconds(fake.proc.pid)}
    cpu = {"functions": cpu_functions, **{k: cpu_now[k] - cpu_before.get(k, 0.0) for k in cpu_now}}
    cpu_before.update(cpu_now)
    dlq = esm_driver.queue_counts(sqs, queue.dlq_url)
    figures = {
        "label": label,
        "dispatch": {"seconds": dispatch.duration, "cold": dispatch.cold,
                     "vaults_queued": body.get("vaults_queued"), "accounts_queued": body.get("accounts_queued")},
        "wall_s": wall,
        "drained_confirmed_s": drained - start,
        "files": files,
        "vaults": vaults,
        "files_per_s": files / wall if wall > 0 else 0.0,
        "vaults_per_min": vaults / wall * 60 if wall > 0 else 0.0,
        "invocations": len(invocations),
        "invocations_vault": len(vault_durations),
        "invocations_account": len(account_durations),
        "invocations_other": len(other_durations),
        "cold_invocations": cold,
        "function_processes": len(pids),
        "peak_concurrency": mapping.peak_running,
        "polls": mapping.polls,
        "vault_invocation_s": {"mean": statistics.mean(vault_durations) if vault_durations else None,
                               "p90": pctl(vault_durations, 90) if vault_durations else None,
                               "median": statistics.median(vault_durations) if vault_durations else None,
                               "max": max(vault_durations) if vault_durations else None},
        "vault_sync_ms_mean": statistics.mean(vault_ms) if vault_ms else None,
        "account_invocation_s": {"mean": statistics.mean(account_durations) if account_durations else None},
        "all_invocation_s": {"mean": statistics.mean(i.ended_at - i.started_at for i in invocations),
                             "p90": pctl([i.ended_at - i.started_at for i in invocations], 90)},
        "pulls": len(pulls),
        "distinct_pulls": len(set(pulls)),
        "sign_ins": fake.signins(mark),
        "fake_server_requests": len(fake.log(mark)),
        "key_derivations": derivations,
        "fates": dict(fates),
        "waits": waits,
        "continuations": continuations,
        "failed_invocations": failed_invocations,
        "dlq": dlq,
        "cpu_s": cpu,
        "loadavg": [load_start, os.getloadavg()[0]],
    }
    vi = figures["vault_invocation_s"]
    log(f"{label}: {wall:.2f} s, {files} files ({figures['files_per_s']:.1f}/s), {vaults} vaults "
        f"({figures['vaults_per_min']:.1f}/min), {len(invocations)} invocations, peak {mapping.peak_running}, "
        f"vault invocation mean {vi['mean'] or 0:.2f} s p90 {vi['p90'] or 0:.2f} s, {len(pulls)} pulls, "
        f"CPU functions/moto/fake {cpu['functions']:.1f}/{cpu['moto_server']:.1f}/{cpu['fake_server']:.1f} s")
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vaults", type=int, default=24)
    ap.add_argument("--notes", type=int, default=40, help="notes per vault")
    ap.add_argument("--min-bytes", type=int, default=200)
    ap.add_argument("--max-bytes", type=int, default=5000)
    ap.add_argument("--accounts", type=int, default=3,
                    help="Obsidian accounts (the first is the function's own; the others under ALLOWED_SECRET_PREFIX)")
    ap.add_argument("--workers", type=int_list, default=[1, 4, 8],
                    help="comma list: execution environments = the ESM's maximum concurrency [1,4,8]")
    ap.add_argument("--rounds", type=int, choices=(1, 2), default=2,
                    help="2: also the next (incremental) round, nothing changed, cold environments [2]")
    ap.add_argument("--latency-ms", type=int, default=80,
                    help="fake Obsidian server: delay of every reply [80: docs/cost.md's round trip to Obsidian]")
    ap.add_argument("--concurrency", type=int, default=4, help="OBSYNC_CONCURRENCY (sessions per vault) [4]")
    ap.add_argument("--account-concurrency", type=int, default=0,
                    help="OBSYNC_ACCOUNT_CONCURRENCY [0 = no limit; the template's default is 2]")
    ap.add_argument("--retry-delay", type=int, default=1,
                    help="OBSYNC_RETRY_DELAY, s (busy and slot-wait delays) [1; the function's default is 60]")
    ap.add_argument("--batch-size", type=int, default=1, help="the ESM's BatchSize [1, as the template]")
    ap.add_argument("--function-timeout", type=float, default=300,
                    help="s; the queue's visibility timeout is this + 10 [300]")
    ap.add_argument("--memory-mb", type=int, default=512, help="AWS_LAMBDA_FUNCTION_MEMORY_SIZE (not enforced)")
    ap.add_argument("--drain-timeout", type=float, default=1800)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--json", help="also write every figure here")
    ap.add_argument("--report", help="also write the markdown table here")
    args = ap.parse_args()
    for name in ("vaults", "notes", "accounts", "concurrency", "batch_size"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.accounts > args.vaults:
        ap.error("--accounts must not exceed --vaults")

    binary = loopback.lambda_binary()
    for path in (binary, loopback.fake_server_binary(), loopback.obsync_binary()):
        if not path.exists():
            log(f"{path} is not built (cmake --build build --target obsync-lambda obsync-fake-server obsync)")
            return 4

    run_id = uuid.uuid4().hex[:8]
    work = Path(tempfile.mkdtemp(prefix="obsync-scale-bench-"))
    closers: list = []
    figures: dict = {"machine": {"vcpu": os.cpu_count(), "kernel": platform.release(),
                                 "loadavg_start": os.getloadavg()},
                     "parameters": {k: v for k, v in vars(args).items() if k not in ("json", "report")},
                     "binary": {"path": str(binary), "mtime": time.strftime(
                         "%Y-%m-%d %H:%M:%S", time.localtime(binary.stat().st_mtime))},
                     "runs": []}
    try:
        log(f"work folder {work}; load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} vCPU")
        moto = loopback.MotoServer()
        closers.append(moto.close)
        accounts = [Account(i, run_id) for i in range(args.accounts)]
        fake = loopback.FakeObsidian([f"{a.email}:{a.password}" for a in accounts],
                                     ["--latency-ms", str(args.latency_ms)])
        closers.append(fake.close)

        # ---- the vaults
        t0 = time.monotonic()
        total_files = total_bytes = 0
        expected: dict[str, int] = {}  # key prefix -> files
        for v in range(args.vaults):
            account = accounts[v % len(accounts)]
            name = f"Vault {v:03d}"
            src = work / "src" / account.name / name
            files, nbytes = generate_vault(src, args.notes, args.min_bytes, args.max_bytes, args.seed + v)
            fake.seed(account.email, name, VAULT_PASSWORD, src)
            account.vaults.append(name)
            total_files += files
            total_bytes += nbytes
            expected[f"{PREFIX}/{name}" if account.index == 0 else f"{PREFIX}/{account.name}/{name}"] = files
        shutil.rmtree(work / "src", ignore_errors=True)
        log(f"{args.vaults} vaults over {len(accounts)} account(s): {total_files} files, "
            f"{total_bytes / 1e6:.2f} MB, seeded in {time.monotonic() - t0:.1f} s")
        figures["vaults"] = {"count": args.vaults, "files": total_files, "bytes": total_bytes}

        # ---- the secrets (kept for every W)
        secrets = moto.client("secretsmanager")
        account_prefix = f"obsync/scale-{run_id}/accounts/"
        for account in accounts:
            account.secret_id = f"obsync/scale-{run_id}/own" if account.index == 0 else account_prefix + account.name
            secrets.create_secret(Name=account.secret_id, SecretString=json.dumps({
                "email": account.email, "password": account.password,
                "vaults": {n: {"password": VAULT_PASSWORD} for n in account.vaults}}))

        sqs = moto.client("sqs")
        s3 = moto.client("s3")
        cpu_before: dict[str, float] = {}
        for w in args.workers:
            suffix = f"{run_id}-w{w}"
            bucket, table = f"obsync-scale-{suffix}", f"obsync-scale-{suffix}"
            s3.create_bucket(Bucket=bucket)
            loopback.create_state_table(moto, table)
            queue = esm_driver.create_queue_pair(sqs, f"obsync-scale-{suffix}",
                                                 visibility_timeout=int(args.function_timeout) + 10,
                                                 max_receive_count=8)
            env = {**moto.aws_environment(), "OBSIDIAN_API_URL": fake.api,
                   "OBSYNC_SECRET_ID": accounts[0].secret_id, "STATE_TABLE_NAME": table,
                   "S3_BUCKET": bucket, "S3_PREFIX": PREFIX,
                   "OBSYNC_CONCURRENCY": str(args.concurrency), "OBSYNC_LOG_LEVEL": "INFO",
                   "OBSYNC_VAULT_METRICS": "false",
                   "OBSYNC_QUEUE_URL": queue.url, "OBSYNC_DEAD_LETTER_QUEUE_URL": queue.dlq_url,
                   "OBSYNC_ACCOUNT_CONCURRENCY": str(args.account_concurrency),
                   "OBSYNC_RETRY_DELAY": str(args.retry_delay)}
            if len(accounts) > 1:
                env["ALLOWED_SECRET_PREFIX"] = account_prefix

            def emulator() -> RuntimeEmulator:
                emu = RuntimeEmulator([str(binary)], env, function_timeout=args.function_timeout,
                                      function_name="obsync-scale-bench", memory_mb=args.memory_mb,
                                      init_timeout=30)
                emu.start()
                closers.append(emu.close)
                return emu

            dispatcher = emulator()
            workers = [emulator() for _ in range(w)]
            # CPU of the shared servers is counted per round: start from their totals now.
            cpu_before = {"moto_server": cpu_seconds(moto.proc.pid), "fake_server": cpu_seconds(fake.proc.pid)}
            per_pid: dict[int, dict[str, float]] = {}
            run = {"workers": w, "rounds": []}
            for r in range(1, args.rounds + 1):
                kind = "first sync" if r == 1 else "no change"
                if r > 1:
                    # The next scheduled round finds no warm environment (6 h later Lambda has
                    # reclaimed them): the workers' processes ended with the ESM's threads (see
                    # run_round); the dispatcher's is ended here.
                    dispatcher.kill()
                round_figures = run_round(
                    label=f"W={w} round {r} ({kind})", moto=moto, fake=fake, sqs=sqs,
                    dispatcher=dispatcher, workers=workers, queue=queue, batch_size=args.batch_size,
                    drain_timeout=args.drain_timeout, per_pid=per_pid,
                    cpu_before=cpu_before)
                round_figures["kind"] = kind
                run["rounds"].append(round_figures)
                if r == 1:
                    # Every file of every vault is in the bucket (the .obsync/ objects aside).
                    got: Counter = Counter()
                    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX + "/"):
                        for item in page.get("Contents", []):
                            key = item["Key"]
                            if "/.obsync/" in key or key.endswith("/"):
                                continue
                            for prefix in expected:
                                if key.startswith(prefix + "/"):
                                    got[prefix] += 1
                                    break
                    missing = {p: (n, got.get(p, 0)) for p, n in expected.items() if got.get(p, 0) != n}
                    if missing:
                        raise RuntimeError(f"W={w}: vaults not fully backed up (expected, found): {missing}")
                    if round_figures["files"] != total_files or round_figures["vaults"] != args.vaults:
                        raise RuntimeError(f"W={w}: {round_figures['files']} files / {round_figures['vaults']} "
                                           f"vaults synced, expected {total_files} / {args.vaults}")
                elif round_figures["files"] != 0 or round_figures["pulls"] != 0:
                    raise RuntimeError(f"W={w} round {r}: expected no change, got {round_figures['files']} "
                                       f"files and {round_figures['pulls']} pulls")
                if any(round_figures["dlq"].values()):
                    raise RuntimeError(f"W={w} round {r}: messages in the dead-letter queue: {round_figures['dlq']}")
            for emu in [dispatcher, *workers]:
                emu.close()
            figures["runs"].append(run)
        figures["machine"]["loadavg_end"] = os.getloadavg()
    finally:
        close_all(closers, work, log)

    # ---------------------------------------------------------------------- report
    def s(value, digits=2):
        return "–" if value is None else f"{value:.{digits}f}"

    rows = []
    for run in figures["runs"]:
        for rf in run["rounds"]:
            vi = rf["vault_invocation_s"]
            inv = f"{rf['invocations']} ({rf['invocations_vault']} + {rf['invocations_account']}"
            inv += f" + {rf['invocations_other']})" if rf["invocations_other"] else ")"
            rows.append(
                f"| {run['workers']} | {rf['kind']} | {s(rf['wall_s'])} | {rf['files']} | {s(rf['files_per_s'], 1)} | "
                f"{rf['vaults']} | {s(rf['vaults_per_min'], 1)} | {inv} | {rf['peak_concurrency']} | "
                f"{s(vi['mean'])} / {s(vi['p90'])} | {rf['pulls']} | {rf['sign_ins']} | {rf['key_derivations']} | "
                f"{s(rf['cpu_s']['functions'], 1)} / {s(rf['cpu_s']['moto_server'], 1)} / "
                f"{s(rf['cpu_s']['fake_server'], 1)} | {s(rf['loadavg'][0])} → {s(rf['loadavg'][1])} |")
    p = figures["parameters"]
    lines = [
        f"Scale-out benchmark: {p['vaults']} vaults × {p['notes']} notes ({p['min_bytes']}-{p['max_bytes']} B; "
        f"{figures['vaults']['files']} files, {figures['vaults']['bytes'] / 1e6:.2f} MB) "
        f"over {p['accounts']} account(s); "
        f"fake server latency {p['latency_ms']} ms per reply; OBSYNC_CONCURRENCY {p['concurrency']}, "
        f"OBSYNC_ACCOUNT_CONCURRENCY {p['account_concurrency']}, BatchSize {p['batch_size']}; "
        f"{figures['machine']['vcpu']} vCPU (every worker, moto_server, the fake server and this driver share them)",
        "",
        "| workers | round | wall s | files | files/s | vaults | vaults/min | invocations (vault + account [+ other]) | "
        "peak concurrency | vault invocation mean / p90 s | pulls | sign-ins | key derivations | "
        "CPU s: functions / moto / fake server | load avg |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "wall = the event source mapping's start to the end of the last invocation (the dispatch "
        "invocation before it is not included: " + ", ".join(
            f"W={run['workers']}: {s(run['rounds'][0]['dispatch']['seconds'])} s"
            for run in figures["runs"]) + " in round 1).",
    ]
    extra = []
    for run in figures["runs"]:
        for rf in run["rounds"]:
            notes = []
            if rf["waits"]:
                notes.append(f"{rf['waits']} waits (a busy vault or a full account: sent again with a delay)")
            if rf["continuations"]:
                notes.append(f"{rf['continuations']} continuations")
            retries = sum(n for fate, n in rf["fates"].items() if fate in ("retry", "retry_later"))
            if retries:
                notes.append(f"{retries} retried (listed in batchItemFailures)")
            if rf["failed_invocations"]:
                notes.append(f"{len(rf['failed_invocations'])} invocations with failures")
            if notes:
                extra.append(f"W={run['workers']} {rf['kind']}: " + ", ".join(notes))
    if extra:
        lines += ["", *extra]
    publish(lines, figures, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
