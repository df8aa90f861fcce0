#!/usr/bin/env python3
"""Lambda function benchmark: build/obsync-lambda under our Runtime API emulator, on loopback.

Reuses tests/lambda/runtime_emulator.py (the emulator: it starts the function, records
cold_start_s = exec to the first GET /next, and times each invocation from hand-out to answer)
and tests/lambda/loopback.py (moto_server, the counting proxy, obsync-fake-server). Nothing here
contacts anything but 127.0.0.1. Started by bench/run_lambda_bench.sh (which adds `unshare -n`).

Phases, all on one fake Obsidian server, one moto, one bucket, one DynamoDB state table and one
Secrets Manager secret (the deployment's shape: OBSYNC_SECRET_ID, STATE_TABLE_NAME, S3_BUCKET):
  1. seed a generated vault (N notes, 0.2-5 KB, log-uniform; folders, unicode names, fixed mtimes);
  2. one execution environment: a complete sync (timed), VmHWM; then K warm no-change
     incrementals (median, p90), VmHWM over them (the peak is reset with clear_refs when allowed);
  3. C cold starts, each a fresh process answering one no-change incremental (exec to first
     /next, handling time of that cold invocation, VmHWM);
  4. floor: the same cold start of a minimal C bootstrap (GET /next, POST a response), when a C
     compiler is there: how much of the cold start is the emulator and process creation;
  5. request counts: an environment whose AWS endpoint is loopback.CountingProxy (in front of
     moto), one cold and W warm no-change invocations; S3 / DynamoDB / Secrets Manager requests
     per invocation, plus the fake server's request lines. Timing phases do not go through the
     proxy (its Python forwarding would inflate them).
"""

from __future__ import annotations

import argparse
import ctypes  # noqa: F401  imported here so the emulator's preexec_fn (die_with_parent) finds it loaded
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests" / "lambda"))

import loopback  # noqa: E402
from runtime_emulator import RuntimeEmulator  # noqa: E402

EMAIL = "alice@example.com"
ACCOUNT_PASSWORD = "hunter2-bench"
VAULT = "Bench"
VAULT_PASSWORD = "correct horse bench"
PREFIX = "backups"


def log(msg: str) -> None:
    print(f"[lambda-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- the vault

NAME_WORDS = ["Meeting", "Notes", "Café", "Résumé", "Straße", "日本語", "東京", "ノート", "Ωmega",
              "Naïve", "Projekt", "Idées", "Überblick", "Zürich", "København", "Año", "🚀", "Ideas",
              "Journal", "Draft", "Привет", "العربية", "עברית", "한국어", "中文", "Ελληνικά", "Plan",
              "Weekly", "Archive", "Daily", "Inbox", "Ünïcødé", "Crème brûlée"]
TEXT_WORDS = ("the quick brown fox jumps over lazy dog lorem ipsum dolor sit amet consectetur "
              "adipiscing elit sed do eiusmod tempor sync vault note backup encrypt café naïve "
              "straße 東京 会議 привет мир γειά 🚀 ✅ résumé").split()


def generate_vault(out: Path, notes: int, lo: int, hi: int, seed: int) -> tuple[int, int]:
    """Like bench/gen_vault.py's generator (notes only): log-uniform sizes in [lo, hi] bytes,
    folders up to 5 deep, NFC unicode names, fixed mtimes. Returns (files, bytes)."""
    rng = random.Random(seed)
    folders, depth = [""], {"": 0}
    for i in range(max(1, min(120, notes // 20))):
        parent = rng.choice([f for f in folders if depth[f] < 5])
        path = f"{parent}/{rng.choice(NAME_WORDS)} {i:03d}" if parent else f"{rng.choice(NAME_WORDS)} {i:03d}"
        folders.append(path)
        depth[path] = depth[parent] + 1
    mtime, total = 1704164645, 0
    for i in range(notes):
        folder = "" if rng.random() < 0.1 else rng.choice(folders)
        name = unicodedata.normalize("NFC", f"{rng.choice(NAME_WORDS)} {rng.choice(NAME_WORDS).lower()} {i:04d}.md")
        size = int(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        text = f"# {name[:-3]}\n\ntags: #bench #n{i % 17}\n\n"
        while len(text.encode()) < size:
            text += " ".join(rng.choices(TEXT_WORDS, k=rng.randint(8, 30))).capitalize() + ".\n"
        data = text.encode()[:size].decode("utf-8", "ignore").encode()
        path = out / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (mtime, mtime))
        mtime += 61
        total += len(data)
    return notes, total


# ------------------------------------------------------------------------ measurements

def proc_status(pid: int | None) -> dict[str, int]:
    """VmHWM / VmRSS / VmPeak of a live process, in KiB ({} when it is gone)."""
    out: dict[str, int] = {}
    if pid is None:
        return out
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "VmPeak", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def close_all(closers: list, work: Path, log) -> None:
    """Runs every closer, last opened first, then removes the work folder. Best effort: one
    closer's failure is logged and the rest still run."""
    for close in reversed(closers):
        try:
            close()
        except Exception as e:  # noqa: BLE001  best effort: the rest must still close
            log(f"cleanup: {e}")
    shutil.rmtree(work, ignore_errors=True)


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (its own, not its children's)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, TypeError):
        return float("nan")


def sample_rss(pid: int | None, stop, every: float = 0.005) -> list[tuple[float, int]]:
    """Samples VmRSS (KiB) of pid every `every` s in a thread until stop() is true; the list
    fills in place: (time.monotonic(), KiB)."""
    samples: list[tuple[float, int]] = []

    def run():
        while not stop() and pid is not None:
            kib = proc_status(pid).get("VmRSS")
            if kib is None:
                return
            samples.append((time.monotonic(), kib))
            time.sleep(every)

    threading.Thread(target=run, daemon=True).start()
    return samples


def reset_peak(pid: int) -> bool:
    """Resets VmHWM to the current RSS (clear_refs 5, Linux >= 4.0; needs ptrace rights)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def pctl(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def fn_duration_ms(result) -> int | None:
    """The function's own duration_ms of the invocation (its "invocation finished" line)."""
    for doc in result.json_logs():
        if doc.get("message") == "invocation finished":
            return doc.get("duration_ms")
    return None


def body_of(result) -> dict:
    if result.kind != "response" or not isinstance(result.payload, dict):
        tail = "\n".join(result.logs[-20:])
        raise RuntimeError(f"invocation failed: kind={result.kind} type={result.error_type} "
                           f"payload={str(result.payload)[:500]}\n{tail}")
    return result.payload


def check_nochange(result, expect_cold: bool) -> dict:
    body = body_of(result)
    if not body.get("success") or body.get("files_count") != 0 or result.cold != expect_cold:
        raise RuntimeError(f"not a successful no-change invocation (cold={result.cold}): {json.dumps(body)[:800]}")
    return body


MINIMAL_BOOTSTRAP = r"""
/* The smallest custom runtime: GET /next, POST "{}" as the response, forever. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static struct sockaddr_in addr;
static int exchange(const char *req, size_t n, char *buf, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) return -1;
    if (write(fd, req, n) != (ssize_t)n) return -1;
    size_t got = 0; ssize_t r;
    while (got + 1 < cap && (r = read(fd, buf + got, cap - 1 - got)) > 0) {
        got += (size_t)r; buf[got] = 0;
        if (strstr(buf, "\r\n\r\n")) break;  /* headers are enough */
    }
    close(fd);
    return 0;
}
int main(void) {
    char host[64]; int port;
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (!api || sscanf(api, "%63[^:]:%d", host, &port) != 2) return 2;
    addr.sin_family = AF_INET; addr.sin_port = htons((unsigned short)port);
    inet_pton(AF_INET, host, &addr.sin_addr);
    static char buf[65536], req[512];
    for (;;) {
        const char *get = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        if (exchange(get, strlen(get), buf, sizeof buf) != 0) return 1;
        char *id = strcasestr(buf, "Lambda-Runtime-Aws-Request-Id: ");
        if (!id) return 1;
        id += 31; id[strcspn(id, "\r\n")] = 0;
        int n = snprintf(req, sizeof req, "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\n"
                         "Host: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", id);
        if (exchange(req, (size_t)n, buf, sizeof buf) != 0) return 1;
    }
}
"""


def build_minimal_bootstrap(work: Path) -> Path | None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    src, exe = work / "minimal_bootstrap.c", work / "minimal_bootstrap"
    src.write_text(MINIMAL_BOOTSTRAP)
    result = subprocess.run([cc, "-O2", "-Wall", "-Werror", "-o", str(exe), str(src)], capture_output=True)
    return exe if result.returncode == 0 else None


# ------------------------------------------------------------------------------- main

def publish(lines: list[str], figures: dict, args: argparse.Namespace) -> None:
    """Prints the report, and writes it and the figures where --report and --json say."""
    text = "\n".join(lines)
    print(text)
    if args.report:
        Path(args.report).write_text(text + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--notes", type=int, default=2000)
    ap.add_argument("--min-bytes", type=int, default=200)
    ap.add_argument("--max-bytes", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--cold-starts", type=int, default=20)
    ap.add_argument("--warm", type=int, default=10, help="warm no-change invocations (timed)")
    ap.add_argument("--count-warm", type=int, default=3, help="warm invocations through the counting proxy")
    ap.add_argument("--latency-ms", type=int, default=0, help="fake Obsidian server delay per reply")
    ap.add_argument("--concurrency", type=int, default=4, help="OBSYNC_CONCURRENCY")
    ap.add_argument("--memory-mb", type=int, default=128, help="AWS_LAMBDA_FUNCTION_MEMORY_SIZE (not enforced)")
    ap.add_argument("--json", help="also write every figure here")
    ap.add_argument("--report", help="also write the markdown table here")
    args = ap.parse_args()
    for name in ("notes", "cold_starts", "warm", "count_warm"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")

    binary = loopback.lambda_binary()
    for path in (binary, loopback.fake_server_binary(), loopback.obsync_binary()):
        if not path.exists():
            log(f"{path} is not built (cmake --build build --target obsync-lambda obsync-fake-server obsync)")
            return 4

    work = Path(tempfile.mkdtemp(prefix="obsync-lambda-bench-"))
    closers = []
    figures: dict = {"machine": {"vcpu": os.cpu_count(), "kernel": platform.release(),
                                 "loadavg_start": os.getloadavg()},
                     "parameters": vars(args)}
    try:
        log(f"work folder {work}; load average {os.getloadavg()[0]:.2f}")
        moto = loopback.MotoServer()
        closers.append(moto.close)
        proxy = loopback.CountingProxy(moto.endpoint)
        closers.append(proxy.close)
        fake = loopback.FakeObsidian([f"{EMAIL}:{ACCOUNT_PASSWORD}"], ["--latency-ms", str(args.latency_ms)])
        closers.append(fake.close)

        src = work / "src"
        files, nbytes = generate_vault(src, args.notes, args.min_bytes, args.max_bytes, args.seed)
        t0 = time.monotonic()
        fake.seed(EMAIL, VAULT, VAULT_PASSWORD, src)
        log(f"vault: {files} notes, {nbytes / 1e6:.2f} MB, seeded in {time.monotonic() - t0:.1f} s")
        figures["vault"] = {"files": files, "bytes": nbytes}

        suffix = uuid.uuid4().hex[:8]
        bucket, table, secret_id = f"obsync-bench-{suffix}", f"obsync-bench-{suffix}", f"obsync/bench-{suffix}"
        moto.client("s3").create_bucket(Bucket=bucket)
        loopback.create_state_table(moto, table)
        moto.client("secretsmanager").create_secret(
            Name=secret_id,
            SecretString=json.dumps({"email": EMAIL, "password": ACCOUNT_PASSWORD,
                                     "vaults": {VAULT: {"password": VAULT_PASSWORD}}}))
        env = {**moto.aws_environment(), "OBSIDIAN_API_URL": fake.api, "OBSYNC_SECRET_ID": secret_id,
               "STATE_TABLE_NAME": table, "S3_BUCKET": bucket, "S3_PREFIX": PREFIX,
               "OBSYNC_CONCURRENCY": str(args.concurrency), "OBSYNC_LOG_LEVEL": "INFO"}

        def emulator(environment: dict, command=None) -> RuntimeEmulator:
            emu = RuntimeEmulator([str(command or binary)], environment, function_timeout=900,
                                  function_name="obsync-bench", memory_mb=args.memory_mb, init_timeout=30)
            emu.start()
            closers.append(emu.close)
            return emu

        event_full = {"vault_id": VAULT, "sync_type": "complete"}
        event_inc = {"vault_id": VAULT}

        # ---- 2 + 3: complete sync, then warm no-change incrementals, one environment.
        emu = emulator(env)
        mark = time.monotonic()
        handle = emu.invoke_async(event_full)
        samples = sample_rss(emu.pid, handle.done)
        full = handle.wait()
        body = body_of(full)
        if not body.get("success") or body.get("files_count") != files:
            raise RuntimeError(f"complete sync: {json.dumps(body)[:800]}")
        pid = full.pid
        st_full = proc_status(pid)
        fake.settle()
        full_obsidian = len(fake.log(mark))
        # Downloads start once the vault key is derived: the RSS after the first pull is the
        # transfer phase's, without scrypt's 32 MiB work area.
        first_pull = min((at for at, line in list(fake.lines) if at >= mark and loopback.PULL_RE.search(line)),
                         default=None)
        transfer_peak = max((kib for at, kib in samples if first_pull is not None and at >= first_pull), default=0)
        log(f"complete sync: {full.duration:.2f} s (function {fn_duration_ms(full)} ms), "
            f"{body['files_count']} files, VmHWM {st_full.get('VmHWM', 0) / 1024:.1f} MiB, "
            f"init {full.init_duration * 1000:.1f} ms")
        figures["complete"] = {"seconds": full.duration, "function_ms": fn_duration_ms(full),
                               "files": body["files_count"], "init_s": full.init_duration,
                               "status_kib": st_full, "obsidian_requests": full_obsidian,
                               "transfer_peak_rss_kib": transfer_peak, "rss_samples": len(samples)}
        peak_reset = reset_peak(pid)
        warm, warm_fn, warm_obsidian = [], [], []
        cpu_pids = {"function": pid, "moto_server": moto.proc.pid, "obsync-fake-server": fake.proc.pid}
        cpu_before = {name: cpu_seconds(p) for name, p in cpu_pids.items()}
        for _ in range(args.warm):
            mark = time.monotonic()
            r = emu.invoke(event_inc)
            check_nochange(r, expect_cold=False)
            if r.pid != pid:
                raise RuntimeError("the warm invocation ran in another process")
            warm.append(r.duration)
            warm_fn.append(fn_duration_ms(r))
            fake.settle()
            warm_obsidian.append(len(fake.log(mark)))
        st_warm = proc_status(pid)
        warm_cpu_ms = {name: (cpu_seconds(p) - cpu_before[name]) * 1000 / max(1, args.warm)
                       for name, p in cpu_pids.items()}
        emu.close()
        log(f"warm no-change x{args.warm}: median {statistics.median(warm) * 1000:.1f} ms, "
            f"p90 {pctl(warm, 90) * 1000:.1f} ms; VmHWM {st_warm.get('VmHWM', 0) / 1024:.1f} MiB "
            f"({'since the reset' if peak_reset else 'whole process'})")
        figures["warm"] = {"seconds": warm, "function_ms": warm_fn, "median_s": statistics.median(warm),
                           "p90_s": pctl(warm, 90), "status_kib": st_warm, "peak_reset": peak_reset,
                           "obsidian_requests": warm_obsidian, "cpu_ms_per_invocation": warm_cpu_ms}

        # ---- 1: cold starts (fresh process each, answering a no-change incremental).
        emu = emulator(env)
        cold_init, cold_dur, cold_fn, cold_hwm = [], [], [], []
        for _ in range(args.cold_starts):
            r = emu.invoke(event_inc)
            check_nochange(r, expect_cold=True)
            cold_hwm.append(proc_status(r.pid).get("VmHWM", 0))
            cold_init.append(r.init_duration)
            cold_dur.append(r.duration)
            cold_fn.append(fn_duration_ms(r))
            emu.kill()
        emu.close()
        log(f"cold start x{args.cold_starts}: median {statistics.median(cold_init) * 1000:.1f} ms "
            f"(min {min(cold_init) * 1000:.1f}, max {max(cold_init) * 1000:.1f}); cold no-change "
            f"invocation median {statistics.median(cold_dur) * 1000:.1f} ms")
        figures["cold"] = {"init_s": cold_init, "invocation_s": cold_dur, "function_ms": cold_fn,
                           "vmhwm_kib": cold_hwm}

        # ---- 4: the emulator's floor, a minimal C bootstrap.
        floor = []
        exe = build_minimal_bootstrap(work)
        if exe is not None:
            emu = emulator(env, exe)
            for _ in range(args.cold_starts):
                r = emu.invoke({})
                if r.kind != "response":
                    raise RuntimeError(f"minimal bootstrap: {r.kind}")
                floor.append(r.init_duration)
                emu.kill()
            emu.close()
            log(f"minimal C bootstrap x{args.cold_starts}: median {statistics.median(floor) * 1000:.1f} ms")
        figures["floor_init_s"] = floor

        # ---- 5: request counts through the counting proxy.
        emu = emulator({**env, "AWS_ENDPOINT_URL": proxy.endpoint})

        def counted(event) -> tuple[object, dict[str, int], int]:
            before = dict(proxy.counts)
            mark = time.monotonic()
            r = emu.invoke(event)
            fake.settle()
            delta = {k: v - before.get(k, 0) for k, v in proxy.counts.items() if v - before.get(k, 0)}
            return r, delta, len(fake.log(mark))

        def split(delta: dict[str, int]) -> dict[str, int]:
            out = {"s3": 0, "dynamodb": 0, "secretsmanager": 0, "other": 0}
            for target, n in delta.items():
                if target.startswith("DynamoDB_"):
                    out["dynamodb"] += n
                elif target.startswith("secretsmanager."):
                    out["secretsmanager"] += n
                elif target.split(" ")[0] in ("GET", "PUT", "HEAD", "DELETE", "POST"):
                    out["s3"] += n
                else:
                    out["other"] += n
            return out

        r, delta, obs = counted(event_inc)
        check_nochange(r, expect_cold=True)
        counts = {"cold": {**split(delta), "obsidian": obs, "detail": delta}, "warm": []}
        for _ in range(args.count_warm):
            r, delta, obs = counted(event_inc)
            check_nochange(r, expect_cold=False)
            counts["warm"].append({**split(delta), "obsidian": obs, "detail": delta})
        emu.close()
        figures["requests"] = counts
        figures["machine"]["loadavg_end"] = os.getloadavg()
    finally:
        close_all(closers, work, log)

    # ---------------------------------------------------------------------- report
    ms = lambda s: f"{s * 1000:.1f}"  # noqa: E731
    mib = lambda k: f"{k / 1024:.1f}"  # noqa: E731
    cold, warm_f, comp = figures["cold"], figures["warm"], figures["complete"]
    w = counts["warm"][-1] if counts["warm"] else {}
    warm_hwm_label = "since a clear_refs reset after the complete sync" if warm_f["peak_reset"] else "whole process (no reset)"
    fn_cold = [v for v in cold["function_ms"] if v is not None]
    fn_warm = [v for v in warm_f["function_ms"] if v is not None]
    rows = [
        ("cold start: exec to first GET /next (median of %d)" % len(cold["init_s"]),
         ms(statistics.median(cold["init_s"])) + " ms",
         f"min {ms(min(cold['init_s']))}, p90 {ms(pctl(cold['init_s'], 90))}, max {ms(max(cold['init_s']))}; target <= 20 ms"),
    ]
    if floor:
        rows.append(("  same for a minimal C bootstrap (emulator + fork/exec floor)",
                     ms(statistics.median(floor)) + " ms", f"min {ms(min(floor))}, max {ms(max(floor))}"))
    rows += [
        ("cold invocation, no-change incremental (median of %d)" % len(cold["invocation_s"]),
         ms(statistics.median(cold["invocation_s"])) + " ms",
         f"p90 {ms(pctl(cold['invocation_s'], 90))}; function's own duration_ms median "
         f"{statistics.median(fn_cold) if fn_cold else '?'}; secret read, sign-in, scrypt"),
        ("complete sync, %d files (%.2f MB)" % (comp["files"], figures["vault"]["bytes"] / 1e6),
         f"{comp['seconds']:.2f} s", f"function duration_ms {comp['function_ms']}; "
         f"{comp['files'] / comp['seconds']:.0f} files/s; {comp['obsidian_requests']} Obsidian requests"),
        ("warm no-change incremental, median of %d" % len(warm_f["seconds"]), ms(warm_f["median_s"]) + " ms",
         f"function's own duration_ms median {statistics.median(fn_warm) if fn_warm else '?'}"),
        ("warm no-change incremental, p90", ms(warm_f["p90_s"]) + " ms",
         "all: " + "/".join(ms(s) for s in warm_f["seconds"])),
        ("CPU per warm invocation: function / moto_server / fake server",
         " / ".join(f"{v:.0f}" for v in warm_f["cpu_ms_per_invocation"].values()) + " ms",
         "from /proc/PID/stat over the warm invocations (10 ms ticks), divided by their number"),
        ("requests per warm no-change invocation (S3 / DynamoDB / Secrets Manager / Obsidian)",
         f"{w.get('s3', '?')} / {w.get('dynamodb', '?')} / {w.get('secretsmanager', '?')} / {w.get('obsidian', '?')}",
         f"cold: {counts['cold']['s3']} / {counts['cold']['dynamodb']} / {counts['cold']['secretsmanager']} / "
         f"{counts['cold']['obsidian']}"),
        ("peak RSS (VmHWM), complete sync", mib(comp["status_kib"].get("VmHWM", 0)) + " MiB",
         f"VmRSS after {mib(comp['status_kib'].get('VmRSS', 0))} MiB; target <= 64 MB (61.0 MiB)"),
        ("  of which after the first pull (transfers; VmRSS sampled every 5 ms)", mib(comp["transfer_peak_rss_kib"]) + " MiB",
         f"{comp['rss_samples']} samples; before it: the cold start and scrypt (32 MiB)"),
        ("peak RSS (VmHWM), %d warm invocations" % len(warm_f["seconds"]),
         mib(warm_f["status_kib"].get("VmHWM", 0)) + " MiB",
         f"{warm_hwm_label}; VmRSS after {mib(warm_f['status_kib'].get('VmRSS', 0))} MiB"),
        ("peak RSS (VmHWM), cold no-change invocation (median)", mib(statistics.median(cold["vmhwm_kib"])) + " MiB",
         f"max {mib(max(cold['vmhwm_kib']))} MiB"),
    ]
    lines = [
        f"Lambda function benchmark: {figures['vault']['files']} notes "
        f"({args.min_bytes}-{args.max_bytes} B), latency {args.latency_ms} ms, OBSYNC_CONCURRENCY "
        f"{args.concurrency}, {os.cpu_count()} vCPU, load average {figures['machine']['loadavg_start'][0]:.2f} "
        f"-> {figures['machine']['loadavg_end'][0]:.2f}",
        "",
        "| measure | result | notes |",
        "|---|---:|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
        "warm invocation requests in detail: " + json.dumps(w.get("detail", {}), sort_keys=True),
        "cold invocation requests in detail: " + json.dumps(counts["cold"]["detail"], sort_keys=True),
    ]
    publish(lines, figures, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
