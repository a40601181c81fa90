#!/usr/bin/env bash
# bench/dynamodb/run.sh - DynamoDB API throughput and latency of tributary next to moto and dynalite.
#
# Usage: bench/dynamodb/run.sh [SERVER...]
#   SERVER: tributary-disk tributary-mem dynalite-mem dynalite-ldb moto null (default: all six)
#     tributary-disk  target/release/tributary serve --data-dir DIR   (every ack is fsynced: group commit)
#     tributary-mem   target/release/tributary serve --in-memory
#     dynalite-mem    dynalite (in-memory)
#     dynalite-ldb    dynalite --path DIR (LevelDB on disk; LevelDB does not fsync per write)
#     moto            moto_server (moto[server], in-memory)
#     null            nullsrv.rs: answers every request with a fixed 200 (no storage): the ceiling of
#                     this harness on this machine (wrk and server share the cores); no setup/verify
#
# One command: builds tributary if the binary is missing (and runs a copy of it, so that a rebuild
# during the run changes nothing), builds nullsrv with rustc, installs the peers if missing (moto[server]
# into a venv, dynalite with npm), then per run and per server: start it on a free 127.0.0.1 port (own
# process group), create + preload the tables (ddb.py setup), and for each of PutItem, GetItem,
# BatchWriteItem (25 items/request) and Query (partition of 20 items, Limit 10) at 1 connection
# (wrk -t1 -c1) and 16 connections (wrk -t2 -c16): a WARM-second warm-up that is also the verify run
# (ddb.lua response hook checks every response: 200, Item present, UnprocessedItems empty, Count 10),
# then the measured DUR-second run (wrk --latency; wrk also counts non-2xx). Server CPU comes from
# /proc; for PutItem/BatchWriteItem fsync+fdatasync calls of the server are counted with
# `perf stat -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync -p PID`. Then the item count of
# table bench is checked against the acknowledged writes, tributary-disk is additionally killed with
# SIGKILL, restarted on the same data dir and counted again, and the server is stopped (SIGTERM).
# Finally the median markdown tables over all runs are printed (ddb.py report); results of several
# invocations can be merged with `python3 bench/dynamodb/ddb.py report out/*/run*/results.tsv`.
#
# Env knobs: RUNS=1 (repeat everything; server order rotates per run) DUR=10 WARM=2 NKEYS=10000
#   NPARTS=500 MAX_OTHER=0.15 (cores used by other processes during a measured phase above which the
#   phase is repeated) RETRIES=1 (extra attempts; the least contaminated one is kept)
#   PERF=0 (1: after the measured phases of each of PERF_SERVERS=tributary-disk: PERF_DUR=10 s of
#   PutItem at 16 connections with per-thread CPU (/proc) and fsync/fdatasync latency (syscall
#   tracepoints), then PERF_DUR s more under `perf record --call-graph dwarf`; reports in the out dir)
#   BIN=target/release/tributary VENV=/tmp/ddbbench-venv NODED=/tmp/ddbbench-node
#   OUT=bench/dynamodb/out (raw wrk outputs, server logs, results.tsv, report.md per invocation)
# Exit status: 0 ok; 1 a verify run, a non-2xx response, a count check or a server exit failed.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${BIN:-$ROOT/target/release/tributary}
VENV=${VENV:-/tmp/ddbbench-venv}
NODED=${NODED:-/tmp/ddbbench-node}
RUNS=${RUNS:-1}; DUR=${DUR:-10}; WARM=${WARM:-2}; NKEYS=${NKEYS:-10000}; NPARTS=${NPARTS:-500}
MAX_OTHER=${MAX_OTHER:-0.15}; RETRIES=${RETRIES:-1}; PERF=${PERF:-0}; PERF_DUR=${PERF_DUR:-10}
PERF_SERVERS=${PERF_SERVERS:-tributary-disk}
export MAX_OTHER
STAMP=$(date +%Y%m%d-%H%M%S)
OUTD=${OUT:-$HERE/out}/$STAMP
mkdir -p "$OUTD"
PY=python3
H="$PY $HERE/ddb.py"
ALL="tributary-disk tributary-mem dynalite-mem dynalite-ldb moto null"
SERVERS=${*:-$ALL}
FAIL=0
log() { echo "[ddb-bench $(date +%H:%M:%S)] $*" | tee -a "$OUTD/log.txt" >&2; }
fail() { log "FAIL: $*"; FAIL=1; echo "$*" >>"$OUTD/failures.txt"; }

# ---- tools and peers ---------------------------------------------------------------------------
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 2; }
case " $SERVERS " in *" tributary-"*)
  if [ ! -x "$BIN" ]; then (cd "$ROOT" && cargo build --release -p tributary) || exit 2; fi
  mkdir -p "$OUTD/bin" && cp "$BIN" "$OUTD/bin/tributary" && BIN=$OUTD/bin/tributary;;
esac
case " $SERVERS " in *" null "*)
  NULLSRV=${OUT:-$HERE/out}/nullsrv
  if [ ! -x "$NULLSRV" ] || [ "$HERE/nullsrv.rs" -nt "$NULLSRV" ]; then rustc -O -o "$NULLSRV" "$HERE/nullsrv.rs" || exit 2; fi;;
esac
case " $SERVERS " in *" moto "*)
  if [ ! -x "$VENV/bin/moto_server" ]; then
    log "installing moto[server] into $VENV"
    python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "moto[server]" || exit 2
  fi;;
esac
case " $SERVERS " in *" dynalite"*)
  if [ ! -x "$NODED/node_modules/.bin/dynalite" ]; then
    log "installing dynalite into $NODED"
    mkdir -p "$NODED" && (cd "$NODED" && { [ -f package.json ] || npm init -y >/dev/null; } && npm install dynalite) || exit 2
  fi;;
esac
PERF_STAT=0
if command -v perf >/dev/null && perf stat -e syscalls:sys_enter_fdatasync -o /dev/null -- true 2>/dev/null; then PERF_STAT=1; fi

{
  echo "date: $(date -Is)"
  echo "host: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "fs of out dir: $(df -T "$OUTD" | awk 'NR==2{print $2, $1}')"
  [ -x "$BIN" ] && echo "tributary: $BIN sha256 $(sha256sum "$BIN" | cut -c1-12) repo $(git -C "$ROOT" describe --always --dirty 2>/dev/null)"
  [ -x "$VENV/bin/python" ] && echo "moto: $("$VENV/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null), $("$VENV/bin/python" --version)"
  [ -f "$NODED/node_modules/dynalite/package.json" ] && echo "dynalite: $(node -p "require('$NODED/node_modules/dynalite/package.json').version"), node $(node --version)"
  echo "wrk: $(wrk -v 2>&1 | head -1)"
  echo "settings: RUNS=$RUNS DUR=$DUR WARM=$WARM NKEYS=$NKEYS NPARTS=$NPARTS MAX_OTHER=$MAX_OTHER RETRIES=$RETRIES perf_stat=$PERF_STAT"
} >"$OUTD/machine.txt"
cat "$OUTD/machine.txt" >&2

# ---- server lifecycle --------------------------------------------------------------------------
SERVER_PID=""; PORT=""; DATADIR=""
server_cmd() {  # NAME PORT DATADIR
  case $1 in
    tributary-disk) echo "$BIN serve --listen 127.0.0.1:$2 --data-dir $3";;
    tributary-mem)  echo "$BIN serve --listen 127.0.0.1:$2 --in-memory";;
    dynalite-mem)   echo "$NODED/node_modules/.bin/dynalite --host 127.0.0.1 --port $2 --createTableMs 0";;
    dynalite-ldb)   echo "$NODED/node_modules/.bin/dynalite --host 127.0.0.1 --port $2 --createTableMs 0 --path $3";;
    moto)           echo "$VENV/bin/moto_server -H 127.0.0.1 -p $2";;
    null)           echo "$NULLSRV 127.0.0.1:$2";;
    *) return 1;;
  esac
}
start_server() {  # NAME LOGFILE (DATADIR reused if set)
  local cmd
  cmd=$(server_cmd "$1" "$PORT" "$DATADIR") || { echo "unknown server $1" >&2; exit 2; }
  echo "$cmd" >>"$SDIR/command.txt"
  setsid bash -c "exec $cmd" >>"$2" 2>&1 &
  SERVER_PID=$!
  $H wait "$PORT" 120 || { fail "$1 not ready on port $PORT"; return 1; }
}
stop_server() {  # [SIGNAL]
  local sig=${1:-TERM} rc
  [ -n "$SERVER_PID" ] || return 0
  [ "$sig" = KILL ] && disown "$SERVER_PID" 2>/dev/null   # no "Killed" job notice; status not needed
  kill -"$sig" -- "-$SERVER_PID" 2>/dev/null
  for _ in $(seq 1 150); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$SERVER_PID" 2>/dev/null
  { wait "$SERVER_PID"; } 2>/dev/null; rc=$?
  SERVER_PID=""
  LAST_RC=$rc
}
cleanup() { stop_server; [ -n "$DATADIR" ] && rm -rf "$DATADIR"; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# ---- measurement -------------------------------------------------------------------------------
# wrk output -> "rps p50ms p99ms requests non2xx sockerr"
parse_wrk() {
  awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; if (v ~ /m$/) return v*60000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
    /requests in/ { n = $1 }
    /Non-2xx or 3xx responses:/ { bad = $NF }
    /Socket errors:/ { se = $0; sub(/.*Socket errors: */, "", se); gsub(/ /, "", se) }
    /^Requests\/sec:/ { rps = $2 }
    END { printf "%.1f %.3f %.3f %d %d %s\n", rps, p50, p99, n, bad + 0, (se == "" ? "none" : se) }' "$1"
}
# busy CPU seconds of the machine: user+nice+system+steal (irq/softirq left out: loopback network
# processing at high request rates lands there and belongs to the measured pair, not to other jobs)
sys_busy() { awk -v t="$(getconf CLK_TCK)" '/^cpu /{printf "%.2f", ($2 + $3 + $4 + $9) / t; exit}' /proc/stat; }
ACKED=0; INFLIGHT=0   # items acknowledged by put/batch responses (warm-up + measured), max in flight
account() {  # wrk-output op conc
  local n bad per=1
  read -r _ _ _ n bad _ < <(parse_wrk "$1")
  [ "$2" = batch ] && per=25
  ACKED=$((ACKED + (n - bad) * per)); INFLIGHT=$((INFLIGHT + $3 * per))
}

run_phase() {  # SERVER OP CONC -> appends a row to results.tsv
  local srv=$1 op=$2 conc=$3 thr=1 name v best="" best_other=999 a
  [ "$conc" -gt 1 ] && thr=2
  name=$op-c$conc
  local url=http://127.0.0.1:$PORT/
  export DDB_OP=$op DDB_KEYS=$NKEYS DDB_PARTS=$NPARTS
  for a in $(seq 0 "$RETRIES"); do
    log "$srv $name attempt $a: load $(cut -d' ' -f1-3 /proc/loadavg)"
    DDB_VERIFY=1 DDB_TAG="w$RUN$a$(date +%s%N)" wrk -t$thr -c"$conc" -d"${WARM}s" --timeout 10s --latency \
      -s "$HERE/ddb.lua" "$url" >"$SDIR/$name.a$a.warm.txt" 2>&1
    case $op in put|batch) account "$SDIR/$name.a$a.warm.txt" "$op" "$conc";; esac
    v=$(grep -h '^DDB verify' "$SDIR/$name.a$a.warm.txt")
    log "  $v"
    if [ "$srv" != null ] && { ! grep -q ' bad=0 ' <<<"$v" || grep -q 'responses=0 ' <<<"$v"; }; then fail "$srv $name verify: ${v:-no verify output}"; fi
    local c0 c1 b0 b1 wt perfo="$SDIR/$name.a$a.perfstat"
    local pre=()
    if [ "$PERF_STAT" = 1 ] && { [ "$op" = put ] || [ "$op" = batch ]; }; then
      pre=(perf stat -x, -o "$perfo" -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync -p "$SERVER_PID" --)
    fi
    b0=$(sys_busy); c0=$($H tree_cpu "$SERVER_PID")
    { TIMEFORMAT='%U %S'; time DDB_TAG="m$RUN$a$(date +%s%N)" "${pre[@]}" wrk -t$thr -c"$conc" -d"${DUR}s" --timeout 10s \
        --latency -s "$HERE/ddb.lua" "$url" >"$SDIR/$name.a$a.txt" 2>&1; } 2>"$SDIR/$name.a$a.wrktime"
    c1=$($H tree_cpu "$SERVER_PID"); b1=$(sys_busy)
    case $op in put|batch) account "$SDIR/$name.a$a.txt" "$op" "$conc";; esac
    local rps p50 p99 n bad se cpu cpuus other syncs="n/a" ips
    read -r rps p50 p99 n bad se < <(parse_wrk "$SDIR/$name.a$a.txt")
    cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", b - a}')
    cpuus=$(awk -v c="$cpu" -v n="$n" 'BEGIN{ if (n > 0) printf "%.0f", c * 1e6 / n; else print "n/a" }')
    wt=$(awk '{printf "%.2f", $1 + $2}' "$SDIR/$name.a$a.wrktime")
    other=$(awk -v b0="$b0" -v b1="$b1" -v s="$cpu" -v w="$wt" -v d="$DUR" 'BEGIN{o = ((b1 - b0) - s - w) / d; if (o < 0) o = 0; printf "%.2f", o}')
    if [ -s "$perfo" ]; then
      syncs=$(awk -F, -v d="$DUR" '/sys_enter_f(data)?sync/{s += $1} END{printf "%.0f", s / d}' "$perfo")
    fi
    ips=$rps; [ "$op" = batch ] && ips=$(awk -v r="$rps" 'BEGIN{printf "%.1f", r * 25}')
    log "  $srv $name: ${rps} req/s (${ips} items/s) p50 ${p50} ms p99 ${p99} ms n=$n non2xx=$bad sockerr=$se server_cpu=${cpu}s (${cpuus} us/req) wrk_cpu=${wt}s other=${other} cores syncs/s=$syncs"
    [ "$bad" -gt 0 ] && fail "$srv $name: $bad non-2xx responses in the measured run"
    [ "$n" -gt 0 ] || fail "$srv $name: no responses"
    local row
    row=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$STAMP-$RUN" "$srv" "$op" "$conc" "$rps" "$ips" "$p50" "$p99" "$n" "$bad" "$cpuus" "$other" "$syncs" "$se")
    if awk -v o="$other" -v b="$best_other" 'BEGIN{exit !(o < b)}'; then best=$row; best_other=$other; fi
    if awk -v o="$other" -v m="$MAX_OTHER" 'BEGIN{exit !(o <= m)}'; then break; fi
    log "  WARNING: other processes used $other cores (> $MAX_OTHER) during $srv $name"
  done
  echo "$best" >>"$RESULTS"
}

bench_server() {  # NAME
  local srv=$1 cnt lo hi
  SDIR=$RDIR/$srv; mkdir -p "$SDIR"
  PORT=$($H freeport); DATADIR=""
  case $srv in tributary-disk|dynalite-ldb) DATADIR=$(mktemp -d "$OUTD/data-$srv-XXXXXX");; esac
  log "== run $RUN: $srv on 127.0.0.1:$PORT (load $(cut -d' ' -f1-3 /proc/loadavg))"
  start_server "$srv" "$SDIR/server.log" || { stop_server; return; }
  log "  server pid $SERVER_PID, RSS $($H tree_rss "$SERVER_PID") KiB"
  if [ "$srv" = null ]; then echo "null server: no setup" >"$SDIR/setup.txt"
  elif ! $H setup "$PORT" "$NKEYS" "$NPARTS" >"$SDIR/setup.txt" 2>&1; then
    cat "$SDIR/setup.txt" >&2; fail "$srv setup"; stop_server; return
  fi
  log "  $(tail -n 1 "$SDIR/setup.txt")"
  ACKED=$NKEYS; INFLIGHT=0
  for ph in "put 1" "put 16" "get 1" "get 16" "batch 1" "batch 16" "query 1" "query 16"; do
    # shellcheck disable=SC2086
    run_phase "$srv" $ph
  done
  log "  RSS after: $($H tree_rss "$SERVER_PID") KiB"
  if [ "$PERF" = 1 ] && [[ " $PERF_SERVERS " == *" $srv "* ]]; then
    log "  PutItem c16 for ${PERF_DUR}s: per-thread CPU and fsync/fdatasync latency (syscall tracepoints only)"
    $H threads "$SERVER_PID" >"$SDIR/threads0.txt"
    DDB_OP=put DDB_TAG="sync$RUN$(date +%s%N)" perf record -e syscalls:sys_enter_fsync,syscalls:sys_exit_fsync \
      -e syscalls:sys_enter_fdatasync,syscalls:sys_exit_fdatasync -o "$SDIR/perf-sync.data" -p "$SERVER_PID" -- \
      wrk -t2 -c16 -d"${PERF_DUR}s" --timeout 10s --latency -s "$HERE/ddb.lua" "http://127.0.0.1:$PORT/" \
      >"$SDIR/sync-put-c16.wrk.txt" 2>"$SDIR/perf-sync.log"
    $H threads "$SERVER_PID" >"$SDIR/threads1.txt"
    account "$SDIR/sync-put-c16.wrk.txt" put 16
    log "  $(parse_wrk "$SDIR/sync-put-c16.wrk.txt") (rps p50 p99 n non2xx sockerr)"
    { $H threaddiff "$SDIR/threads0.txt" "$SDIR/threads1.txt" "$PERF_DUR"; $H synclat "$SDIR/perf-sync.data" "$PERF_DUR"; } \
      | tee "$SDIR/threads-sync.txt" | sed 's/^/    /' | tee -a "$OUTD/log.txt" >&2
    log "  perf record (dwarf) of PutItem c16 for ${PERF_DUR}s"
    DDB_OP=put DDB_TAG="perf$RUN$(date +%s%N)" perf record -F 999 --call-graph dwarf,16384 -o "$SDIR/perf-put-c16.data" \
      -p "$SERVER_PID" -- wrk -t2 -c16 -d"${PERF_DUR}s" --timeout 10s --latency -s "$HERE/ddb.lua" \
      "http://127.0.0.1:$PORT/" >"$SDIR/perf-put-c16.wrk.txt" 2>"$SDIR/perf-record.log"
    account "$SDIR/perf-put-c16.wrk.txt" put 16
    log "  under perf: $(parse_wrk "$SDIR/perf-put-c16.wrk.txt") (rps p50 p99 n non2xx sockerr)"
    perf report -i "$SDIR/perf-put-c16.data" --no-children --sort dso,sym --percent-limit 0.3 --stdio -g none \
      >"$SDIR/perf-self.txt" 2>/dev/null
    perf report -i "$SDIR/perf-put-c16.data" --children --sort sym --percent-limit 2 --stdio -g none \
      >"$SDIR/perf-children.txt" 2>/dev/null
    perf report -i "$SDIR/perf-put-c16.data" --no-children --sort comm,dso --stdio -g none \
      >"$SDIR/perf-threads.txt" 2>/dev/null
    log "  perf reports: $SDIR/perf-{self,children,threads}.txt"
  fi
  if [ "$srv" = null ]; then stop_server TERM; log "  stopped"; return; fi
  lo=$ACKED; hi=$((ACKED + INFLIGHT))
  cnt=$($H count "$PORT" bench 2>>"$SDIR/count.err")
  log "  item count bench: $cnt (acknowledged $lo, at most $hi with requests in flight at wrk stop)"
  if ! [ "$cnt" -ge "$lo" ] 2>/dev/null || ! [ "$cnt" -le "$hi" ]; then fail "$srv item count $cnt not in [$lo, $hi]"; fi
  printf '%s\t%s\tcount\t%s\t%s\t%s\n' "$STAMP-$RUN" "$srv" "$cnt" "$lo" "$hi" >>"$RDIR/checks.tsv"
  if [ "$srv" = tributary-disk ]; then
    stop_server KILL
    log "  SIGKILLed; restarting on the same data dir"
    start_server "$srv" "$SDIR/server-restart.log" || { stop_server; return; }
    cnt=$($H count "$PORT" bench 2>>"$SDIR/count.err")
    log "  item count after SIGKILL + restart: $cnt (acknowledged $lo)"
    if ! [ "$cnt" -ge "$lo" ] 2>/dev/null || ! [ "$cnt" -le "$hi" ]; then fail "$srv count after SIGKILL $cnt not in [$lo, $hi]"; fi
    printf '%s\t%s\tcount-after-kill9\t%s\t%s\t%s\n' "$STAMP-$RUN" "$srv" "$cnt" "$lo" "$hi" >>"$RDIR/checks.tsv"
  fi
  stop_server TERM
  log "  stopped (exit status $LAST_RC)"
  case $srv in tributary-*) [ "$LAST_RC" = 0 ] || fail "$srv exit status $LAST_RC";; esac
  if grep -E -q ' (WARN|ERROR) ' "$SDIR/server.log"; then log "  WARN/ERROR lines in $SDIR/server.log"; fi
  [ -n "$DATADIR" ] && rm -rf "$DATADIR"; DATADIR=""
}

read -r -a SLIST <<<"$SERVERS"
TSVS=()
for RUN in $(seq 1 "$RUNS"); do
  RDIR=$OUTD/run$RUN; mkdir -p "$RDIR"
  RESULTS=$RDIR/results.tsv
  echo -e "#run\tserver\top\tconc\trps\titems_per_s\tp50_ms\tp99_ms\trequests\tnon2xx\tcpu_us_per_req\tother_cores\tsyncs_per_s\tsocket_errors" >"$RESULTS"
  n=${#SLIST[@]}
  for i in $(seq 0 $((n - 1))); do
    bench_server "${SLIST[$(( (i + RUN - 1) % n ))]}"
  done
  TSVS+=("$RESULTS")
  $H report "$RESULTS" >"$RDIR/report.md"
done
$H report "${TSVS[@]}" | tee "$OUTD/report.md"
echo
echo "raw outputs: $OUTD"
[ -f "$OUTD/failures.txt" ] && { echo "FAILURES:"; cat "$OUTD/failures.txt"; }
exit $FAIL
