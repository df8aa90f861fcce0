#!/usr/bin/env bash
# Encrypted-at-rest benchmark (issue #15): `obsync sync --encrypted` against the plaintext sync of
# the same vault, to a local folder and to S3 (moto_server), on 127.0.0.1 only; then the size
# each layout stores, and the restore of the encrypted backup (which decrypts) against the
# plaintext one. "The encrypted mode skips decryption: it should be at least as fast."
#
#   bench/run_encrypted_bench.sh            # default size: 2000 notes, 50 attachments
#   bench/run_encrypted_bench.sh --smoke    # a small, quick run (100 notes, 5 attachments)
#   bench/run_encrypted_bench.sh --help
#
# What it does:
#   1. generates the sync benchmark's vault (bench/gen_vault.py, same seed and sizes), seeds it on
#      ONE obsync-fake-server at latency L (default 0: the comparison is of obsync's own work, which
#      a 20 ms round trip would hide), starts moto_server and creates a bucket;
#   2. for each round (--rounds, default 2, alternating the order), times a complete first sync
#      with a fresh state in each mode (plaintext, --encrypted) to a local folder and to S3;
#   3. measures what each backup stores: bytes of bodies, bytes of sidecars (local encrypted) and
#      object metadata (S3, x-amz-meta-* as HeadObject returns it), object or file counts;
#   4. restores the last S3 backup of each mode into an empty folder (the encrypted one with
#      --password: it decrypts and checks every GCM tag) and checks both against the source
#      (diff -r, sizes, mtimes);
#   5. prints a table (wall s, files/s, MB/s, CPU s, peak RSS) and the ratios.
# Every timed command runs under /usr/bin/time -v and `timeout`. Everything lives in a temp folder
# that is removed on exit (--keep keeps it); the servers are always stopped. Runs inside
# `unshare -n` (only loopback) when possible.
#
# Units: MB = 10^6 bytes of file content (plaintext); RSS in MiB; CPU s = user + system of obsync.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SCRIPT="$HERE/$(basename "${BASH_SOURCE[0]}")"

BUILD_DIR=${ENC_BENCH_BUILD_DIR:-$REPO/build}
NOTES=${ENC_BENCH_NOTES:-2000}
ATTACHMENTS=${ENC_BENCH_ATTACHMENTS:-50}
SEED=${ENC_BENCH_SEED:-4}
LATENCY_MS=${ENC_BENCH_LATENCY_MS:-0}
CONC=${ENC_BENCH_CONCURRENCY:-4}
ROUNDS=${ENC_BENCH_ROUNDS:-2}
STEP_TIMEOUT=${ENC_BENCH_STEP_TIMEOUT:-900}
DEADLINE=${ENC_BENCH_DEADLINE:-3600}
NETNS=${ENC_BENCH_NETNS:-auto}
KEEP=${ENC_BENCH_KEEP:-0}
REPORT=${ENC_BENCH_REPORT:-}
MOTO=${OBSYNC_MOTO_SERVER:-moto_server}

usage() {
    cat <<EOF
usage: $0 [options]          (each option also has an env variable, in brackets)
  --notes N             notes, 0.2-50 KB each                        [ENC_BENCH_NOTES=$NOTES]
  --attachments M       attachments, 50 KB-8 MB each                 [ENC_BENCH_ATTACHMENTS=$ATTACHMENTS]
  --seed S              generator seed                               [ENC_BENCH_SEED=$SEED]
  --latency-ms L        fake server latency per reply                [ENC_BENCH_LATENCY_MS=$LATENCY_MS]
  --concurrency C       obsync sync --concurrency                    [ENC_BENCH_CONCURRENCY=$CONC]
  --rounds R            timed rounds per case (median-free: each is
                        listed; the ratio uses the fastest)          [ENC_BENCH_ROUNDS=$ROUNDS]
  --step-timeout S      limit of every timed command                 [ENC_BENCH_STEP_TIMEOUT=$STEP_TIMEOUT]
  --deadline S          whole-run limit                              [ENC_BENCH_DEADLINE=$DEADLINE]
  --netns auto|require|off  loopback-only network namespace          [ENC_BENCH_NETNS=$NETNS]
  --report FILE         also write the results (markdown) here       [ENC_BENCH_REPORT]
  --build-dir DIR       where obsync and obsync-fake-server are      [ENC_BENCH_BUILD_DIR]
  --keep                keep the work folder                         [ENC_BENCH_KEEP=1]
  --smoke               small run: 100 notes, 5 attachments, 1 round
moto_server comes from PATH or OBSYNC_MOTO_SERVER; without it (or boto3) the benchmark says
SKIPPED and exits 0.
EOF
}

while (($#)); do
    case $1 in
    --notes) NOTES=$2; shift ;;
    --attachments) ATTACHMENTS=$2; shift ;;
    --seed) SEED=$2; shift ;;
    --latency-ms) LATENCY_MS=$2; shift ;;
    --concurrency) CONC=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --step-timeout) STEP_TIMEOUT=$2; shift ;;
    --deadline) DEADLINE=$2; shift ;;
    --netns) NETNS=$2; shift ;;
    --report) REPORT=$(readlink -f "$2"); shift ;;
    --build-dir) BUILD_DIR=$(readlink -f "$2"); shift ;;
    --keep) KEEP=1 ;;
    --smoke) NOTES=100 ATTACHMENTS=5 ROUNDS=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run_encrypted_bench: unknown option $1 (see --help)" >&2; exit 4 ;;
    esac
    shift
done

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
BENCH_TAG=encrypted-bench BENCH_VAR=ENC_BENCH
check_tools
require_moto

# Fake credentials of the fake server and of moto (never real ones).
readonly EMAIL=alice@example.com ACCOUNT_PASSWORD=hunter2 VAULT=Bench VAULT_PASSWORD='correct horse'
readonly BUCKET=obsync-encrypted-bench
unset_client_env

if [[ -z "${ENC_BENCH_IN_NETNS:-}" ]]; then
    enter_netns "$NETNS" ENC_BENCH_IN_NETNS env ENC_BENCH_BUILD_DIR="$BUILD_DIR" ENC_BENCH_NOTES="$NOTES" \
        ENC_BENCH_ATTACHMENTS="$ATTACHMENTS" ENC_BENCH_SEED="$SEED" ENC_BENCH_LATENCY_MS="$LATENCY_MS" \
        ENC_BENCH_CONCURRENCY="$CONC" ENC_BENCH_ROUNDS="$ROUNDS" ENC_BENCH_STEP_TIMEOUT="$STEP_TIMEOUT" \
        ENC_BENCH_DEADLINE="$DEADLINE" ENC_BENCH_KEEP="$KEEP" ENC_BENCH_REPORT="$REPORT" \
        ENC_BENCH_NETNS="$NETNS" OBSYNC_MOTO_SERVER="$MOTO" bash "$SCRIPT" ||
        case $? in
        2) die "cannot create a network namespace (unshare -n / ip)" ;;
        *) die "--netns must be auto, require or off" ;;
        esac
else
    log "network: isolated namespace (only loopback)"
fi

start_work
log "machine: $(nproc) vCPU, $(LC_ALL=C lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
log "parameters: notes=$NOTES attachments=$ATTACHMENTS seed=$SEED latency=${LATENCY_MS}ms concurrency=$CONC rounds=$ROUNDS"

timed() {
    local name=$1
    shift
    run_timed "$name" "$STEP_TIMEOUT" "$@"
    time_results "$name" "$STEP_TIMEOUT"
    log "$name: wall ${T_WALL}s, CPU ${T_CPU}s, peak RSS $((T_RSS / 1024)) MiB, exit $T_RC"
}

declare -A BEST=()
# row KEY LABEL FILES VERIFIED: one table row from the last timed command; BEST[KEY] keeps the
# fastest wall time of KEY.
row() {
    local key=$1 wall=$T_WALL
    if [[ -z ${BEST[$key]:-} ]] || awk -v a="$wall" -v b="${BEST[$key]}" 'BEGIN{exit !(a<b)}'; then
        BEST[$key]=$wall
    fi
    ROWS+=("$2|$3|$(mb "$SRC_BYTES")|$wall|$(per_s "$3" "$wall" %.0f)|$(per_s "$SRC_BYTES" "$wall" %.1f 1e6)|$T_CPU|$(mib "$T_RSS")|$4")
}
ratio() { awk -v a="${BEST[$1]}" -v b="${BEST[$2]}" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "?" }'; }

start_moto "$BUCKET"
start_server "$LATENCY_MS"
seed_bench_vault
export XDG_CONFIG_HOME=$WORK/obsync-config
mkdir -p "$XDG_CONFIG_HOME"
timed login "$OBSYNC" --api-url "$API" login --email "$EMAIL" --password "$ACCOUNT_PASSWORD"
((T_RC == 0)) || die "obsync login failed"

# backup KEY MODE DEST ROUND: a complete first sync with a fresh state.
backup() {
    local key=$1 mode=$2 dest=$3 round=$4 flag=() where
    [[ $mode == encrypted ]] && flag=(--encrypted)
    [[ $dest == s3://* ]] && where=S3 || where="local folder"
    mkdir -p "$WORK/state-$key-$round"
    XDG_STATE_HOME=$WORK/state-$key-$round timed "$key-$round" \
        "$OBSYNC" --api-url "$API" sync "$VAULT" --dest "$dest" --password "$VAULT_PASSWORD" \
        --concurrency "$CONC" "${flag[@]}" --json
    V="FAILED (exit $T_RC)"
    if ((T_RC == 0)); then
        V=ok
        if [[ $mode == plaintext && $where != S3 ]]; then verify "$WORK/src" "$dest" -x .obsync; fi
    fi
    [[ $V == ok* ]] || VERIFY_FAILED=1
    row "$key" "$mode sync to $where (round $round)" "$SRC_FILES" "$V"
}

for ((r = 1; r <= ROUNDS; r++)); do
    # Alternate which mode goes first, so that neither always meets a warmer cache.
    if ((r % 2)); then modes=(plaintext encrypted); else modes=(encrypted plaintext); fi
    for m in "${modes[@]}"; do
        rm -rf "$WORK/dest-$m"
        backup "local-$m" "$m" "$WORK/dest-$m" "$r"
        backup "s3-$m" "$m" "s3://$BUCKET/$m-$r" "$r"
    done
done

# What each layout stores (the last round's backups).
count_bytes() { awk '{n++; b+=$1} END{printf "%d %d\n", n, b}'; }
read -r PLAIN_FILES PLAIN_BYTES < <(find "$WORK/dest-plaintext" -path "$WORK/dest-plaintext/.obsync" -prune -o -type f -printf '%s\n' | count_bytes)
read -r ENC_BODIES ENC_BODY_BYTES < <(find "$WORK/dest-encrypted/e" -type f ! -name '*.json' -printf '%s\n' | count_bytes)
read -r ENC_SIDECARS ENC_SIDECAR_BYTES < <(find "$WORK/dest-encrypted/e" -type f -name '*.json' -printf '%s\n' | count_bytes)
s3_sizes() { # s3_sizes PREFIX: "objects body_bytes metadata_bytes" (.obsync/ left out)
    "$PY" - "$AWS_ENDPOINT_URL" "$BUCKET" "$1" <<'PY'
import sys, boto3
url, bucket, prefix = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=url)
n = body = meta = 0
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
    for o in page.get("Contents", []):
        if "/.obsync/" in o["Key"]:
            continue
        n += 1
        body += o["Size"]
        head = s3.head_object(Bucket=bucket, Key=o["Key"])
        meta += sum(len(k) + len(v) for k, v in head.get("Metadata", {}).items())
print(n, body, meta)
PY
}
read -r S3P_N S3P_BODY S3P_META < <(s3_sizes "plaintext-$ROUNDS")
read -r S3E_N S3E_BODY S3E_META < <(s3_sizes "encrypted-$ROUNDS")

# Restores of the last S3 backups (the encrypted one decrypts with the password).
restore() { # restore KEY FROM LABEL [ARGS...]
    local key=$1 from=$2 label=$3
    shift 3
    XDG_STATE_HOME=$WORK/state-restore timed "$key" "$OBSYNC" restore --from "$from" \
        --to "$WORK/restored-$key" --concurrency 8 --json "$@"
    V="FAILED (exit $T_RC)"
    ((T_RC != 0)) || verify "$WORK/src" "$WORK/restored-$key" -x .obsync
    [[ $V == ok* ]] || VERIFY_FAILED=1
    row "$key" "$label" "$SRC_FILES" "$V"
}
mkdir -p "$WORK/state-restore"
restore restore-plaintext "s3://$BUCKET/plaintext-$ROUNDS" "restore of the plaintext S3 backup"
restore restore-encrypted "s3://$BUCKET/encrypted-$ROUNDS" "restore of the encrypted S3 backup (--password)" \
    --password "$VAULT_PASSWORD"

pct() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%+.2f %%", (a-b)*100/b; else print "?" }'; }
{
    echo
    echo "Encrypted-at-rest benchmark: $SRC_FILES files ($NOTES notes, $ATTACHMENTS attachments), $(mb "$SRC_BYTES") MB, seed $SEED; fake-server latency ${LATENCY_MS} ms, concurrency $CONC; $(nproc) vCPU; load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    print_table "case|files|MB|wall s|files/s|MB/s|CPU s|peak RSS MiB|verified" '---|---:|---:|---:|---:|---:|---:|---:|---|'
    echo
    echo "Ratio encrypted / plaintext of the fastest wall time (below 1: encrypted is faster):"
    echo
    echo "| case | ratio |"
    echo "|---|---:|"
    echo "| sync to a local folder | $(ratio local-encrypted local-plaintext) |"
    echo "| sync to S3 | $(ratio s3-encrypted s3-plaintext) |"
    echo "| restore from S3 | $(ratio restore-encrypted restore-plaintext) |"
    echo
    echo "What each backup stores (vault content: $SRC_FILES files, $SRC_BYTES bytes):"
    echo
    echo "| backup | entries | body bytes | vs content | extra bytes (sidecars / metadata) |"
    echo "|---|---:|---:|---:|---:|"
    echo "| local, plaintext | $PLAIN_FILES files | $PLAIN_BYTES | $(pct "$PLAIN_BYTES" "$SRC_BYTES") | 0 |"
    echo "| local, encrypted | $ENC_BODIES bodies (files and folders) | $ENC_BODY_BYTES | $(pct "$ENC_BODY_BYTES" "$SRC_BYTES") | $ENC_SIDECAR_BYTES in $ENC_SIDECARS sidecars |"
    echo "| S3, plaintext | $S3P_N objects (files and folder markers) | $S3P_BODY | $(pct "$S3P_BODY" "$SRC_BYTES") | $S3P_META of metadata |"
    echo "| S3, encrypted | $S3E_N objects (files and folders) | $S3E_BODY | $(pct "$S3E_BODY" "$SRC_BYTES") | $S3E_META of metadata |"
    echo
    ((VERIFY_FAILED == 0)) && echo "every plaintext local backup and both restores verified identical to the source (diff -r, sizes, mtimes)" ||
        echo "SOME RUNS FAILED OR DIFFER (see the log above)"
} | tee "$WORK/report.txt"
[[ -z "$REPORT" ]] || cp "$WORK/report.txt" "$REPORT"
((VERIFY_FAILED == 0))
