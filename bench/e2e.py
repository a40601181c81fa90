#!/usr/bin/env python3
"""End-to-end benchmark of the table -> stream -> event source mapping -> Python function pipeline.

Each run starts its own `tributary serve` on a free 127.0.0.1 port (--in-memory, or --data-dir for
the durable store), sets things up with boto3, measures, stops the server with SIGTERM (exit code
0 expected) and prints one markdown table row; raw results go to bench/out/<run>/.

  latency     ms from PutItem acknowledgement (and from send) to the first statement of a warm
              Python handler; BatchSize 1, MaximumBatchingWindowInSeconds 0, StartingPosition
              LATEST; writes are paced (--gap-ms after each ack) so every write meets an idle
              pipeline. Also: the PutItem round trip alone, and a direct Lambda Invoke probe
              (send -> handler start) that isolates the function host from the stream/ESM part.
  throughput  preload N items (no mapping yet) with several writer processes, then create a
              mapping (BatchSize 1000, TRIM_HORIZON) to a near no-op handler; records/s from the
              return of CreateEventSourceMapping to the start of the handler call that received
              the last record. Every delivered key is checked: lost and duplicated records are
              reported.

The binary is first copied to bench/out/bin/tributary-<sha256 prefix> (other sessions may rebuild
target/ during a run); the copy is what runs, and its hash and `git describe` go into result.json.
A run during which other processes used more than --max-other cores (from /proc/stat minus the
server tree and this client) is redone up to --retries times.

Python 3 + boto3 (setup only); the timed requests use raw keep-alive http.client connections with
prebuilt JSON bodies, because boto3 adds ~1 ms of client time per call that is not server latency.

  python3 bench/e2e.py latency    [--data-dir] [-n 2000] [--repeat 3] [--bin target/release/tributary]
  python3 bench/e2e.py throughput [--data-dir] [-n 100000] [--repeat 3] [--writers 4]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import boto3
from botocore.config import Config

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"
REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")

ANOMALIES: list[str] = []
STREAM_SHARDS = 1  # --shards


def log(msg: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def anomaly(msg: str) -> None:
    ANOMALIES.append(msg)
    log("ANOMALY: " + msg)


# ------------------------------------------------------------------------------------------------
# the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_pids(root: int) -> dict[int, str]:
    """pid -> comm of root and all its descendants (function processes are children of the server)."""
    parent: dict[int, int] = {}
    comm: dict[int, str] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        r = s.rindex(")")
        comm[int(d)] = s[s.index("(") + 1 : r]
        parent[int(d)] = int(s[r + 2 :].split()[1])
    out = {root: comm.get(root, "?")}
    changed = True
    while changed:
        changed = False
        for p, pp in parent.items():
            if pp in out and p not in out:
                out[p] = comm[p]
                changed = True
    return out


def proc_cpu(pid: int) -> float:
    """utime+stime seconds of one process (all threads)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return 0.0
    fields = s[s.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_split(root: int) -> tuple[float, float]:
    """(server's own CPU s, CPU s of its descendants = function processes)."""
    pids = tree_pids(root)
    own = proc_cpu(root)
    kids = sum(proc_cpu(p) for p in pids if p != root)
    return own, kids


def self_cpu() -> float:
    t = os.times()
    return t[0] + t[1] + t[2] + t[3]


def other_cores(b0: float, b1: float, srv0, srv1, me0: float, me1: float, wall_s: float) -> float:
    """Cores used by processes other than the server tree and this client during a measurement."""
    return max(0.0, ((b1 - b0) - (sum(srv1) - sum(srv0)) - (me1 - me0)) / wall_s)


class Perf:
    """Optional `perf record` of the server process tree during the measured phase."""

    def __init__(self, enabled: bool, pid: int, run_dir: Path):
        self.proc = None
        self.out = run_dir / "perf.data"
        if enabled:
            pids = ",".join(str(p) for p in tree_pids(pid))
            self.proc = subprocess.Popen(["perf", "record", "-F", "999", "--call-graph", "dwarf,16384", "-p", pids, "-o", str(self.out)],
                                         stdout=subprocess.DEVNULL, stderr=open(run_dir / "perf.log", "wb"))
            time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=60)
            log(f"perf data: {self.out} (perf report -i {self.out} --no-children --sort dso,sym)")
            self.proc = None


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine (all cores)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK_TCK


class Server:
    def __init__(self, binary: Path, run_dir: Path, durable: bool, keep_data: bool):
        self.binary = binary
        self.run_dir = run_dir
        self.port = free_port()
        self.durable = durable
        self.keep_data = keep_data
        self.data_dir = run_dir / "data"
        self.proc: subprocess.Popen | None = None
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if not self.binary.is_file():
            sys.exit(f"{self.binary} not found: cargo build --release -p tributary")
        cmd = [str(self.binary), "serve", "--listen", f"127.0.0.1:{self.port}",
               "--stream-shards", str(STREAM_SHARDS)]
        cmd += ["--data-dir", str(self.data_dir)] if self.durable else ["--in-memory"]
        (self.run_dir / "command.txt").write_text(" ".join(cmd) + "\n")
        logf = open(self.run_dir / "server.log", "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=self.run_dir)
        logf.close()
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                sys.exit(f"server exited with {self.proc.returncode} while starting; see {self.run_dir}/server.log")
            try:
                with urllib.request.urlopen(self.endpoint + "/_tributary/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                sys.exit("server not healthy after 30 s")
            time.sleep(0.02)
        log(f"server pid {self.proc.pid} on {self.endpoint} ({'--data-dir ' + str(self.data_dir) if self.durable else '--in-memory'})")

    def stop(self) -> int:
        assert self.proc is not None
        proc, self.proc = self.proc, None
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            anomaly(f"server did not exit within 30 s of SIGTERM (killed); log {self.run_dir}/server.log")
            return -9
        if rc != 0:
            anomaly(f"server exited with {rc} after SIGTERM (expected 0); log {self.run_dir}/server.log")
        log(f"server stopped: exit {rc} after {time.monotonic() - t0:.2f} s")
        if self.durable and not self.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        return rc

    def kill(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc = None

    def scan_log(self) -> None:
        """Warnings/errors/panics in the server log are anomalies worth reporting."""
        try:
            text = (self.run_dir / "server.log").read_text(errors="replace")
        except OSError:
            return
        bad = [l for l in text.splitlines() if any(w in l for w in ("WARN", "ERROR", "panicked"))]
        if bad:
            anomaly(f"{len(bad)} WARN/ERROR lines in server log, first: {bad[0].strip()[:300]}")


def clients(endpoint: str):
    cfg = Config(region_name=REGION, retries={"total_max_attempts": 1}, read_timeout=120)
    mk = lambda svc: boto3.client(svc, endpoint_url=endpoint, region_name=REGION,  # noqa: E731
                                  aws_access_key_id="bench", aws_secret_access_key="bench", config=cfg)
    return mk("dynamodb"), mk("lambda"), mk("dynamodbstreams")


def wait_for(check, what: str, timeout: float = 30.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = check()
        if v:
            return v
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def create_table(ddb, name: str, view: str) -> str:
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
    t = wait_for(lambda: (lambda t: t if t["TableStatus"] == "ACTIVE" else None)(
        ddb.describe_table(TableName=name)["Table"]), "table ACTIVE")
    return t["LatestStreamArn"]


def zip_bytes(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            z.writestr(name, content)
    return buf.getvalue()


def create_function(lam, name: str, code: str, env: dict[str, str], runtime: str) -> None:
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler="handler.handler",
                        Code={"ZipFile": zip_bytes({"handler.py": code})}, Timeout=60, MemorySize=1024,
                        Environment={"Variables": env})

    def active():
        cfg = lam.get_function(FunctionName=name)["Configuration"]
        if cfg.get("State") == "Failed":
            raise SystemExit(f"function {name} failed: {cfg.get('StateReason')}")
        return cfg.get("State") == "Active"

    wait_for(active, f"function {name} Active")


def create_mapping(lam, fn: str, stream_arn: str, batch: int, position: str, pf: int = 1) -> tuple[dict, int]:
    """Returns (response, time.time_ns() right after CreateEventSourceMapping returned)."""
    esm = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=stream_arn, BatchSize=batch,
                                          MaximumBatchingWindowInSeconds=0, StartingPosition=position,
                                          ParallelizationFactor=pf)
    t = time.time_ns()
    return esm, t


def wait_mapping_enabled(lam, uuid: str) -> None:
    wait_for(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled", "mapping Enabled")


class RawDdb:
    """One keep-alive HTTP/1.1 connection for DynamoDB JSON 1.0 calls with prebuilt bodies."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.headers = {"Content-Type": "application/x-amz-json-1.0",
                        "X-Amz-Target": "DynamoDB_20120810.PutItem", **open_auth("dynamodb")}

    def put(self, body: bytes) -> tuple[int, bytes]:
        # bytes body: http.client sends headers and body in one send() (no Nagle/delayed-ACK stall)
        self.conn.request("POST", "/", body=body, headers=self.headers)
        r = self.conn.getresponse()
        return r.status, r.read()


def open_auth(service: str) -> dict:
    """A well-formed SigV4 signature with the `test` key: what `--auth open` (the default on a
    loopback address) asks of every request; the signature itself is not checked there, so the
    timed requests need not be signed one by one."""
    return {
        "X-Amz-Date": "20260101T000000Z",
        "Authorization": f"AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host, Signature=00",
    }


def put_body(table: str, key: str, extra: str = "") -> bytes:
    return ('{"TableName":"%s","Item":{"pk":{"S":"%s"}%s}}' % (table, key, extra)).encode()


def pct(sorted_vals: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, int(-(-p * len(sorted_vals) // 100)) - 1))
    return sorted_vals[k]


def summary(vals_ms: list[float]) -> dict:
    v = sorted(vals_ms)
    return {"n": len(v), "p50": pct(v, 50), "p90": pct(v, 90), "p99": pct(v, 99), "max": v[-1] if v else float("nan"),
            "min": v[0] if v else float("nan"), "mean": statistics.fmean(v) if v else float("nan"),
            "neg_share": sum(1 for x in v if x < 0) / len(v) if v else float("nan")}


def read_lines(path: Path) -> list[str]:
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return []
    lines = text.split("\n")
    return lines[:-1]  # the last piece is "" or an incomplete line


def machine_info() -> str:
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"nproc={os.cpu_count()} ({len(os.sched_getaffinity(0))} usable), {model}, {os.uname().release}"


def snapshot_binary(binary: Path) -> tuple[Path, str]:
    """Copy the server binary to bench/out/bin/ (other sessions may rebuild target/ during a run);
    returns (copy, sha256 prefix)."""
    import hashlib

    h = hashlib.sha256()
    with open(binary, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    sha = h.hexdigest()[:12]
    dst = OUT / "bin" / f"tributary-{sha}"
    if not dst.exists():
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_suffix(".tmp")
        shutil.copy2(binary, tmp)
        tmp.rename(dst)
    return dst, sha


def git_version() -> str:
    try:
        return subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or "?"
    except OSError:
        return "?"


def new_run_dir(kind: str, durable: bool, i: int) -> Path:
    d = OUT / f"{kind}-{'disk' if durable else 'mem'}-{time.strftime('%Y%m%d-%H%M%S')}-{i}"
    d.mkdir(parents=True, exist_ok=True)
    return d


# ------------------------------------------------------------------------------------------------
# latency

LATENCY_HANDLER = """\
import os
import time

_now = time.time_ns
_out = open(os.environ["BENCH_OUT"], "a")


def handler(event, context):
    t = _now()
    probe = event.get("probe")
    if probe is not None:
        _out.write("%s %d\\n" % (probe, t))
    else:
        for r in event.get("Records", ()):
            _out.write("%s %d\\n" % (r["dynamodb"]["Keys"]["pk"]["S"], t))
    _out.flush()
    return None
"""


def seen_map(path: Path) -> tuple[dict[str, int], int]:
    """key -> first handler start t_ns; number of duplicate deliveries."""
    seen: dict[str, int] = {}
    dups = 0
    for line in read_lines(path):
        k, t = line.split()
        if k in seen:
            dups += 1
        else:
            seen[k] = int(t)
    return seen, dups


def run_latency(args, i: int) -> dict:
    durable = args.data_dir
    run_dir = new_run_dir("latency", durable, i)
    srv = Server(args.bin, run_dir, durable, args.keep_data)
    srv.start()
    res: dict = {}
    try:
        ddb, lam, _ = clients(srv.endpoint)
        rec = run_dir / "handler.txt"
        stream_arn = create_table(ddb, "bench-latency", "NEW_IMAGE")
        create_function(lam, "bench-latency-fn", LATENCY_HANDLER, {"BENCH_OUT": str(rec)}, args.runtime)
        esm, _ = create_mapping(lam, "bench-latency-fn", stream_arn, 1, "LATEST", args.parallelization)
        wait_mapping_enabled(lam, esm["UUID"])
        raw = RawDdb(srv.port)
        gap = args.gap_ms / 1000.0

        # Warm-up: LATEST is fixed when the shard worker starts, so write until a warm key arrives,
        # then args.warm more (discarded).
        n = 0
        deadline = time.monotonic() + 30
        while not seen_map(rec)[0]:
            st, body = raw.put(put_body("bench-latency", f"warm-{n}"))
            assert st == 200, (st, body)
            n += 1
            time.sleep(0.05)
            if time.monotonic() > deadline:
                raise SystemExit("no warm-up record reached the handler within 30 s")
        warm_keys = [f"warm-x{j}" for j in range(args.warm)]
        for k in warm_keys:
            st, body = raw.put(put_body("bench-latency", k))
            assert st == 200, (st, body)
            time.sleep(gap)
        wait_for(lambda: all(k in seen_map(rec)[0] for k in warm_keys), "warm-up records", 30)
        log(f"warm: {n + args.warm} writes delivered; measuring {args.n} writes, {args.gap_ms} ms after each ack")

        keys = [f"k{j:07d}" for j in range(args.n)]
        bodies = [put_body("bench-latency", k, ',"v":{"S":"%s"}' % ("x" * args.value_bytes)) for k in keys]
        t_send = [0] * args.n
        t_ack = [0] * args.n
        bad = 0
        now = time.time_ns
        perf = Perf(args.perf, srv.proc.pid, run_dir)
        c0 = cpu_split(srv.proc.pid)
        b0, me0, w0 = machine_busy(), self_cpu(), time.monotonic()
        for j in range(args.n):
            t_send[j] = now()
            st, body = raw.put(bodies[j])
            t_ack[j] = now()
            if st != 200:
                bad += 1
                if bad <= 3:
                    anomaly(f"PutItem {keys[j]} -> {st} {body[:200]!r}")
            if gap:
                time.sleep(gap)
        ok_keys = set(keys)

        def all_seen():
            s, _ = seen_map(rec)
            return ok_keys.issubset(s)

        try:
            wait_for(all_seen, f"all {args.n} keys at the handler", 60, 0.05)
        except SystemExit:
            s, _ = seen_map(rec)
            anomaly(f"latency: {len(ok_keys - set(s))} of {args.n} keys never reached the handler")
        time.sleep(0.3)  # late duplicates
        c1 = cpu_split(srv.proc.pid)
        perf.stop()
        other = other_cores(b0, machine_busy(), c0, c1, me0, self_cpu(), time.monotonic() - w0)
        if other > 0.1:
            log(f"WARNING: other processes used {other:.2f} cores during the measurement; numbers are contaminated")
        seen, dups = seen_map(rec)

        # Invoke probe: the function-host part alone (client send -> handler start, and -> response).
        probe_send, probe_resp, probe_names = [], [], []
        if args.probe:
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            path = "/2015-03-31/functions/bench-latency-fn/invocations"
            for j in range(args.probe):
                name = f"probe-{j}"
                b = ('{"probe":"%s"}' % name).encode()
                ts = now()
                conn.request("POST", path, body=b, headers={"Content-Type": "application/json", **open_auth("lambda")})
                r = conn.getresponse()
                r.read()
                tr = now()
                if r.status != 200:
                    anomaly(f"Invoke probe -> {r.status}")
                probe_names.append(name)
                probe_send.append(ts)
                probe_resp.append(tr)
                if gap:
                    time.sleep(gap)
            time.sleep(0.2)
            seen2, _ = seen_map(rec)
        with open(run_dir / "latency.csv", "w") as f:
            f.write("key,t_send_ns,t_ack_ns,t_handler_ns\n")
            for j, k in enumerate(keys):
                f.write(f"{k},{t_send[j]},{t_ack[j]},{seen.get(k, '')}\n")
        ack = [(seen[k] - t_ack[j]) / 1e6 for j, k in enumerate(keys) if k in seen]
        snd = [(seen[k] - t_send[j]) / 1e6 for j, k in enumerate(keys) if k in seen]
        rtt = [(t_ack[j] - t_send[j]) / 1e6 for j in range(args.n)]
        res = {"kind": "latency", "mode": "disk" if durable else "mem", "n": args.n, "gap_ms": args.gap_ms,
               "non200": bad, "missing": args.n - len(ack), "duplicates": dups,
               "ack_to_handler_ms": summary(ack), "send_to_handler_ms": summary(snd), "put_rtt_ms": summary(rtt),
               "server_cpu_us_per_write": (c1[0] - c0[0]) * 1e6 / args.n,
               "function_cpu_us_per_write": (c1[1] - c0[1]) * 1e6 / args.n, "other_cores": other,
               "run_dir": str(run_dir)}
        if args.probe:
            ph = [(seen2[nm] - probe_send[j]) / 1e6 for j, nm in enumerate(probe_names) if nm in seen2]
            pr = [(probe_resp[j] - probe_send[j]) / 1e6 for j in range(len(probe_names))]
            res["invoke_send_to_handler_ms"] = summary(ph)
            res["invoke_rtt_ms"] = summary(pr)
        if dups:
            anomaly(f"latency: {dups} duplicate deliveries")
    finally:
        srv.scan_log()
        rc = srv.stop() if srv.proc is not None else None
    res["server_exit"] = rc
    (run_dir / "result.json").write_text(json.dumps(res, indent=2) + "\n")
    return res


LAT_HEADER = ("| store | writes | ack→handler p50 / p90 / p99 / max ms | share < 0 | send→handler p50 / p90 / p99 / max ms "
              "| PutItem RTT p50 / p99 ms | Invoke send→handler p50 / p99 ms | server CPU µs/write | fn CPU µs/write "
              "| missing / dup / non-200 | other cores |\n|---|---|---|---|---|---|---|---|---|---|---|")


def f3(x: float) -> str:
    return f"{x:.3f}"


def lat_row(r: dict) -> str:
    a, s, p = r["ack_to_handler_ms"], r["send_to_handler_ms"], r["put_rtt_ms"]
    inv = r.get("invoke_send_to_handler_ms")
    return (f"| {r['mode']} | {r['n']} | {f3(a['p50'])} / {f3(a['p90'])} / {f3(a['p99'])} / {f3(a['max'])} "
            f"| {a['neg_share'] * 100:.1f} % | {f3(s['p50'])} / {f3(s['p90'])} / {f3(s['p99'])} / {f3(s['max'])} "
            f"| {f3(p['p50'])} / {f3(p['p99'])} | {(f3(inv['p50']) + ' / ' + f3(inv['p99'])) if inv else '-'} "
            f"| {r['server_cpu_us_per_write']:.0f} | {r['function_cpu_us_per_write']:.0f} "
            f"| {r['missing']} / {r['duplicates']} / {r['non200']} | {r['other_cores']:.2f} |")


def median_latency(rs: list[dict]) -> dict:
    def med(path):
        vals = []
        for r in rs:
            v = r
            for p in path:
                v = v.get(p) if isinstance(v, dict) else None
            if v is not None:
                vals.append(v)
        return statistics.median(vals) if vals else None

    m = {"mode": rs[0]["mode"] + f" (median of {len(rs)})", "n": rs[0]["n"],
         "missing": sum(r["missing"] for r in rs), "duplicates": sum(r["duplicates"] for r in rs),
         "non200": sum(r["non200"] for r in rs),
         "server_cpu_us_per_write": med(["server_cpu_us_per_write"]),
         "function_cpu_us_per_write": med(["function_cpu_us_per_write"]), "other_cores": med(["other_cores"])}
    for key in ("ack_to_handler_ms", "send_to_handler_ms", "put_rtt_ms", "invoke_send_to_handler_ms", "invoke_rtt_ms"):
        if all(key in r for r in rs):
            m[key] = {s: med([key, s]) for s in ("p50", "p90", "p99", "max", "neg_share", "mean")}
    return m


# ------------------------------------------------------------------------------------------------
# throughput

THROUGHPUT_HANDLER = """\
import os
import time

_now = time.time_ns
_out = open(os.environ["BENCH_OUT"], "a")
_keys = os.environ.get("BENCH_KEYS") == "1"


def handler(event, context):
    t = _now()
    recs = event.get("Records")
    if not recs:
        return None
    if _keys:
        _out.write("%d %d %s\\n" % (len(recs), t, ",".join([r["dynamodb"]["Keys"]["pk"]["S"] for r in recs])))
    else:
        _out.write("%d %d\\n" % (len(recs), t))
    _out.flush()
    return None
"""


def batch_body(table: str, keys: list[str]) -> bytes:
    reqs = ",".join('{"PutRequest":{"Item":{"pk":{"S":"%s"}}}}' % k for k in keys)
    return ('{"RequestItems":{"%s":[%s]}}' % (table, reqs)).encode()


def _writer(port: int, table: str, lo: int, hi: int, q, batch: bool = False) -> None:
    raw = RawDdb(port)
    if batch:  # BatchWriteItem, 25 items per request; UnprocessedItems must be empty
        raw.headers = dict(raw.headers, **{"X-Amz-Target": "DynamoDB_20120810.BatchWriteItem"})
        bodies = [batch_body(table, [f"k{j:08d}" for j in range(a, min(hi, a + 25))]) for a in range(lo, hi, 25)]
    else:
        bodies = [put_body(table, f"k{j:08d}") for j in range(lo, hi)]
    bad = 0
    first_err = ""
    t0 = time.time_ns()
    for b in bodies:
        st, body = raw.put(b)
        if st != 200 or (batch and json.loads(body).get("UnprocessedItems")):
            bad += 1
            first_err = first_err or f"{st} {body[:200]!r}"
    q.put((lo, hi, bad, first_err, t0, time.time_ns()))


def parse_batches(path: Path, with_keys: bool):
    batches = []  # (len, t_ns)
    counts: dict[str, int] = {}
    for line in read_lines(path):
        parts = line.split(" ", 2)
        n, t = int(parts[0]), int(parts[1])
        batches.append((n, t))
        if with_keys:
            ks = parts[2].split(",")
            if len(ks) != n:
                anomaly(f"batch line with {len(ks)} keys but len {n}")
            for k in ks:
                counts[k] = counts.get(k, 0) + 1
    return batches, counts


def run_throughput(args, i: int) -> dict:
    durable = args.data_dir
    run_dir = new_run_dir("throughput", durable, i)
    srv = Server(args.bin, run_dir, durable, args.keep_data)
    srv.start()
    res: dict = {}
    try:
        ddb, lam, _ = clients(srv.endpoint)
        rec = run_dir / "batches.txt"
        table = "bench-throughput"
        stream_arn = create_table(ddb, table, "KEYS_ONLY")
        create_function(lam, "bench-noop", THROUGHPUT_HANDLER,
                        {"BENCH_OUT": str(rec), "BENCH_KEYS": "0" if args.no_keys else "1"}, args.runtime)

        # preload
        n, w = args.n, args.writers
        ctx = multiprocessing.get_context("fork")
        q = ctx.Queue()
        step = -(-n // w)
        procs = [ctx.Process(target=_writer, args=(srv.port, table, lo, min(n, lo + step), q, args.batch_write))
                 for lo in range(0, n, step)]
        c0 = cpu_split(srv.proc.pid)
        t0 = time.time_ns()
        for p in procs:
            p.start()
        parts = [q.get() for _ in procs]
        t1 = time.time_ns()
        for p in procs:
            p.join()
        c1 = cpu_split(srv.proc.pid)
        write_bad = sum(p[2] for p in parts)
        if write_bad:
            anomaly(f"preload: {write_bad} failed (non-200 or unprocessed) write requests, first: {next(p[3] for p in parts if p[3])}")
        write_rate = n / ((t1 - t0) / 1e9)
        log(f"preload: {n} items ({'BatchWriteItem' if args.batch_write else 'PutItem'}) with {len(procs)} writers in {(t1 - t0) / 1e9:.2f} s = {write_rate:.0f}/s "
            f"(server CPU {(c1[0] - c0[0]) * 1e6 / n:.0f} µs/write)")

        # warm the function with a direct invoke (no records), so no cold start is measured
        r = lam.invoke(FunctionName="bench-noop", Payload=b'{"Records":[]}')
        assert r["StatusCode"] == 200 and "FunctionError" not in r, r
        time.sleep(args.pause)

        perf = Perf(args.perf, srv.proc.pid, run_dir)
        c2 = cpu_split(srv.proc.pid)
        b2, me2, w2 = machine_busy(), self_cpu(), time.monotonic()
        esm, t_created = create_mapping(lam, "bench-noop", stream_arn, args.batch_size, "TRIM_HORIZON",
                                        args.parallelization)
        # wait for the sum of batch sizes to reach n (poll the file cheaply: count bytes -> parse at the end)
        deadline_idle = 60.0
        last_total, last_change = 0, time.monotonic()
        while True:
            time.sleep(0.05)
            total = 0
            for line in read_lines(rec):
                total += int(line.split(" ", 1)[0])
            if total >= n:
                break
            if total != last_total:
                last_total, last_change = total, time.monotonic()
            elif time.monotonic() - last_change > deadline_idle:
                anomaly(f"throughput: delivery stalled at {total} of {n} records for {deadline_idle:.0f} s")
                break
        c3 = cpu_split(srv.proc.pid)
        perf.stop()
        other = other_cores(b2, machine_busy(), c2, c3, me2, self_cpu(), time.monotonic() - w2)
        if other > 0.1:
            log(f"WARNING: other processes used {other:.2f} cores during delivery; numbers are contaminated")
        time.sleep(args.settle)  # anything delivered after this point is a duplicate
        batches, counts = parse_batches(rec, not args.no_keys)
        delivered = sum(b[0] for b in batches)
        t_last = max(b[1] for b in batches) if batches else t_created
        t_first = min(b[1] for b in batches) if batches else t_created
        elapsed = (t_last - t_created) / 1e9
        if counts:
            expected = {f"k{j:08d}" for j in range(n)}
            distinct = len(counts)
            missing = len(expected - counts.keys())
            unexpected = len(counts.keys() - expected)
            dups = delivered - distinct
        else:
            missing = max(0, n - delivered)
            unexpected = 0
            dups = max(0, delivered - n)  # without keys: only the excess is known
        if missing:
            anomaly(f"throughput: {missing} of {n} records never delivered")
        if dups:
            anomaly(f"throughput: {dups} duplicate deliveries")
        if unexpected:
            anomaly(f"throughput: {unexpected} unexpected keys delivered")
        sizes = [b[0] for b in batches]
        steady = ((delivered - sizes[0]) / ((t_last - t_first) / 1e9)) if len(batches) > 1 and t_last > t_first else 0
        res = {"kind": "throughput", "mode": "disk" if durable else "mem", "n": n, "writers": len(procs),
               "write_rate": write_rate, "preload_api": "BatchWriteItem" if args.batch_write else "PutItem", "write_non200": write_bad,
               "write_server_cpu_us": (c1[0] - c0[0]) * 1e6 / n,
               "delivered": delivered, "missing": missing, "duplicates": dups, "batches": len(batches),
               "mean_batch": statistics.fmean(sizes) if sizes else 0, "min_batch": min(sizes) if sizes else 0,
               "elapsed_s": elapsed, "records_per_s": n / elapsed if elapsed > 0 else 0,
               "first_batch_after_ms": (t_first - t_created) / 1e6, "steady_records_per_s": steady,
               "server_cpu_us_per_record": (c3[0] - c2[0]) * 1e6 / n,
               "function_cpu_us_per_record": (c3[1] - c2[1]) * 1e6 / n,
               "other_cores": other,
               "keys_checked": not args.no_keys, "run_dir": str(run_dir)}
        with open(run_dir / "batch_times.csv", "w") as f:
            f.write("len,t_handler_ns,ms_since_create\n")
            for s, t in batches:
                f.write(f"{s},{t},{(t - t_created) / 1e6:.3f}\n")
    finally:
        srv.scan_log()
        rc = srv.stop() if srv.proc is not None else None
    res["server_exit"] = rc
    (run_dir / "result.json").write_text(json.dumps(res, indent=2) + "\n")
    return res


TP_HEADER = ("| store | records | preload PutItem/s (writers) | delivered / missing / dup | batches (mean size) "
             "| first batch after ms | records/s | steady records/s | server CPU µs/record | fn CPU µs/record | other cores |\n"
             "|---|---|---|---|---|---|---|---|---|---|---|")


def tp_row(r: dict) -> str:
    bw = ", BatchWriteItem" if r.get("preload_api") == "BatchWriteItem" else ""
    return (f"| {r['mode']} | {r['n']} | {r['write_rate']:.0f} ({r['writers']}{bw}) "
            f"| {r['delivered']:.0f} / {r['missing']} / {r['duplicates']} | {r['batches']} ({r['mean_batch']:.0f}) "
            f"| {r['first_batch_after_ms']:.1f} | {r['records_per_s']:.0f} | {r['steady_records_per_s']:.0f} "
            f"| {r['server_cpu_us_per_record']:.1f} | {r['function_cpu_us_per_record']:.1f} | {r['other_cores']:.2f} |")


def median_tp(rs: list[dict]) -> dict:
    m = dict(rs[0])
    m["mode"] = rs[0]["mode"] + f" (median of {len(rs)})"
    for k in ("write_rate", "batches", "mean_batch", "first_batch_after_ms", "records_per_s", "steady_records_per_s",
              "server_cpu_us_per_record", "function_cpu_us_per_record", "other_cores"):
        m[k] = statistics.median(r[k] for r in rs)
    m["delivered"] = statistics.median(r["delivered"] for r in rs)
    for k in ("missing", "duplicates"):  # totals over the runs
        m[k] = sum(r[k] for r in rs)
    m["batches"] = round(m["batches"])
    return m


# ------------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("latency", "throughput"):
        p = sub.add_parser(name)
        p.add_argument("--bin", type=Path, default=REPO / "target" / "release" / "tributary")
        p.add_argument("--data-dir", action="store_true",
                       help="durable store in a fresh bench/out/<run>/data (default: --in-memory)")
        p.add_argument("--keep-data", action="store_true", help="keep the data directory after the run")
        p.add_argument("--repeat", type=int, default=1, help="independent runs (fresh server each); prints the median")
        p.add_argument("--max-other", type=float, default=0.15,
                       help="a run during which other processes used more cores than this is redone (--retries)")
        p.add_argument("--retries", type=int, default=3, help="redos of a contaminated run (the last one is kept)")
        p.add_argument("--runtime", default="python3.12")
        p.add_argument("--shards", type=int, default=1, help="open shards per stream (--stream-shards)")
        p.add_argument("--parallelization", type=int, default=1, help="ParallelizationFactor of the mapping")
        p.add_argument("--perf", action="store_true",
                       help="perf record -g the server and function processes during the measured phase")
        if name == "latency":
            p.add_argument("-n", type=int, default=2000, help="measured writes")
            p.add_argument("--warm", type=int, default=20, help="warm-up writes (discarded)")
            p.add_argument("--gap-ms", type=float, default=5.0, help="pause after each ack (0: back to back)")
            p.add_argument("--value-bytes", type=int, default=16, help="size of a string attribute in each item")
            p.add_argument("--probe", type=int, default=300, help="direct Invoke probes after the run (0: none)")
        else:
            p.add_argument("-n", type=int, default=100_000, help="records")
            p.add_argument("--writers", type=int, default=4, help="preload writer processes")
            p.add_argument("--batch-size", type=int, default=1000)
            p.add_argument("--pause", type=float, default=0.5, help="s between preload and CreateEventSourceMapping")
            p.add_argument("--batch-write", action="store_true",
                           help="preload with BatchWriteItem (25 items/request) instead of PutItem")
            p.add_argument("--no-keys", action="store_true",
                           help="handler writes only batch sizes (no per-key loss/duplicate check)")
            p.add_argument("--settle", type=float, default=1.0, help="s to wait for late duplicates")
    args = ap.parse_args()
    global STREAM_SHARDS
    STREAM_SHARDS = args.shards
    args.bin = args.bin.resolve()
    OUT.mkdir(exist_ok=True)
    if not args.bin.is_file():
        sys.exit(f"{args.bin} not found: cargo build --release -p tributary")
    src = args.bin
    args.bin, sha = snapshot_binary(src)
    version = {"binary": str(src), "binary_sha256": sha, "binary_mtime": time.strftime(
        "%Y-%m-%d %H:%M:%S", time.localtime(src.stat().st_mtime)), "git": git_version()}
    log(machine_info())
    log(f"binary {src} sha256 {sha} (mtime {version['binary_mtime']}), repo {version['git']}; running copy {args.bin}")
    results = []
    print(LAT_HEADER if args.cmd == "latency" else TP_HEADER, flush=True)
    for i in range(args.repeat):
        for attempt in range(args.retries + 1):
            log(f"{args.cmd} run {i + 1}/{args.repeat}" + (f" (retry {attempt}: contaminated)" if attempt else ""))
            r = run_latency(args, i) if args.cmd == "latency" else run_throughput(args, i)
            r.update(version)
            r["machine"] = machine_info()
            Path(r["run_dir"], "result.json").write_text(json.dumps(r, indent=2) + "\n")
            row = lat_row(r) if args.cmd == "latency" else tp_row(r)
            if r.get("other_cores", 0) <= args.max_other or attempt == args.retries:
                break
            log(f"discarded (other processes used {r['other_cores']:.2f} cores > --max-other {args.max_other}): {row}")
        print(row, flush=True)
        results.append(r)
    if args.repeat > 1:
        m = median_latency(results) if args.cmd == "latency" else median_tp(results)
        print(lat_row(m) if args.cmd == "latency" else tp_row(m), flush=True)
        (OUT / f"{args.cmd}-{'disk' if args.data_dir else 'mem'}-{time.strftime('%Y%m%d-%H%M%S')}-median.json").write_text(
            json.dumps({"machine": machine_info(), **version, "runs": results, "median": m}, indent=2) + "\n")
    if ANOMALIES:
        log(f"{len(ANOMALIES)} anomalies:")
        for a in ANOMALIES:
            log("  " + a)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
