#!/usr/bin/env python3
"""ddb.py - helpers for bench/dynamodb/run.sh (standard library only; talks only to 127.0.0.1).

Subcommands:
  freeport               print a free TCP port on 127.0.0.1
  wait PORT [TIMEOUT]    poll DynamoDB ListTables until HTTP 200 (exit 1 on timeout)
  setup PORT NKEYS NPARTS
                         create table "bench" (pk S) and "qbench" (pk S, sk S), wait until both are
                         ACTIVE, preload bench with k0..k<NKEYS-1> and qbench with NPARTS partitions
                         p0..p<NPARTS-1> of 20 items each (sk s00..s19), all via raw BatchWriteItem
                         (UnprocessedItems retried), then spot-check one GetItem and one Query.
                         DDB_PAYLOAD=random: bench's payloads are 200 characters of base64 of
                         random bytes instead of 200 x "v" (bytes on disk that no block
                         compression shrinks much).
  count PORT TABLE       Scan Select=COUNT over all pages; prints the item count
  tree_cpu PID           utime+stime (seconds) of PID and all its descendants
  tree_rss PID           VmRSS (KiB) of PID and all its descendants
  report TSV...          merge result rows (one or more runs) into the markdown tables (medians)
  threads PID            per-thread CPU ticks: lines "tid<TAB>comm<TAB>utime+stime ticks"
  threaddiff A B SECONDS per thread name: CPU cores used between two `threads` snapshots
  synclat PERF_DATA SECONDS
                         from `perf record -e syscalls:sys_{enter,exit}_{fsync,fdatasync}` data: calls/s,
                         latency p50/p99/mean and the share of wall time spent inside them, per thread
  perfsummary PERF_DATA  self time of a `perf record` of the server grouped by thread and crate, then
                         the top symbols, and the inclusive share of a few key functions
"""
import http.client, json, os, socket, statistics, sys, time

PAD = "v" * 200
QITEMS = 20   # items per Query partition
HDRS = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Date": "20260101T000000Z",
    "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, "
                     "SignedHeaders=host, Signature=00",
}


class Conn:
    def __init__(self, port):
        self.port = port
        self.c = None

    def call(self, op, body, ok_codes=(200,)):
        data = json.dumps(body).encode()
        h = dict(HDRS, **{"X-Amz-Target": "DynamoDB_20120810." + op})
        for attempt in range(3):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                self.c.request("POST", "/", body=data, headers=h)
                r = self.c.getresponse()
                raw = r.read()
                if r.getheader("Connection", "").lower() == "close" or r.version == 10:
                    self.c.close(); self.c = None
                break
            except (OSError, http.client.HTTPException):
                if self.c:
                    self.c.close()
                self.c = None
                if attempt == 2:
                    raise
                time.sleep(0.2)
        out = json.loads(raw) if raw else {}
        if r.status not in ok_codes:
            raise RuntimeError(f"{op} -> HTTP {r.status}: {raw[:300]!r}")
        return r.status, out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    print(p)


def wait_ready(port, timeout):
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            st, _ = Conn(port).call("ListTables", {}, ok_codes=(200, 400, 500))
            if st == 200:
                return True
        except (OSError, RuntimeError, ValueError, http.client.HTTPException):
            pass
        time.sleep(0.02)
    return False


def create(c, name, keys):
    schema = [{"AttributeName": k, "KeyType": t} for k, t in keys]
    defs = [{"AttributeName": k, "AttributeType": "S"} for k, _ in keys]
    st, out = c.call("CreateTable", {"TableName": name, "KeySchema": schema, "AttributeDefinitions": defs,
                                     "BillingMode": "PAY_PER_REQUEST"}, ok_codes=(200, 400))
    if st == 400:  # emulator without on-demand billing
        print(f"PAY_PER_REQUEST create failed ({out}); using provisioned", file=sys.stderr)
        c.call("CreateTable", {"TableName": name, "KeySchema": schema, "AttributeDefinitions": defs,
                               "ProvisionedThroughput": {"ReadCapacityUnits": 1000, "WriteCapacityUnits": 1000}})
    for _ in range(1200):
        _, d = c.call("DescribeTable", {"TableName": name})
        if d["Table"]["TableStatus"] == "ACTIVE":
            return
        time.sleep(0.05)
    raise SystemExit(f"table {name} not ACTIVE")


def batch_put(c, table, items):
    req = {table: [{"PutRequest": {"Item": it}} for it in items]}
    for _ in range(100):
        _, out = c.call("BatchWriteItem", {"RequestItems": req})
        req = out.get("UnprocessedItems") or None
        if not req:
            return
        time.sleep(0.01)
    raise SystemExit("BatchWriteItem kept returning UnprocessedItems")


def payload():
    if os.environ.get("DDB_PAYLOAD") == "random":
        import base64
        return base64.b64encode(os.urandom(150)).decode()
    return PAD


def setup(port, nkeys, nparts):
    c = Conn(port)
    t0 = time.time()
    create(c, "bench", [("pk", "HASH")])
    create(c, "qbench", [("pk", "HASH"), ("sk", "RANGE")])
    for start in range(0, nkeys, 25):
        batch_put(c, "bench", [{"pk": {"S": f"k{i}"}, "payload": {"S": payload()}}
                               for i in range(start, min(start + 25, nkeys))])
    qitems = [{"pk": {"S": f"p{p}"}, "sk": {"S": f"s{s:02d}"}, "payload": {"S": PAD}}
              for p in range(nparts) for s in range(QITEMS)]
    for start in range(0, len(qitems), 25):
        batch_put(c, "qbench", qitems[start:start + 25])
    _, r = c.call("GetItem", {"TableName": "bench", "Key": {"pk": {"S": f"k{nkeys - 1}"}}})
    assert "Item" in r, f"preload check failed: {r}"
    if nparts > 0:
        _, r = c.call("Query", {"TableName": "qbench", "KeyConditionExpression": "pk = :p",
                                "ExpressionAttributeValues": {":p": {"S": f"p{nparts - 1}"}}, "Limit": 10})
        assert r.get("Count") == 10 and "LastEvaluatedKey" in r, f"query check failed: {r}"
        _, r = c.call("Query", {"TableName": "qbench", "KeyConditionExpression": "pk = :p",
                                "ExpressionAttributeValues": {":p": {"S": f"p{nparts - 1}"}}})
        assert r.get("Count") == QITEMS, f"query check failed: {r.get('Count')}"
    print(f"setup: 2 tables, {nkeys} + {nparts * QITEMS} items preloaded in {time.time() - t0:.1f}s")


def count(port, table):
    c = Conn(port)
    n, body = 0, {"TableName": table, "Select": "COUNT"}
    while True:
        _, r = c.call("Scan", body)
        n += r["Count"]
        if "LastEvaluatedKey" not in r:
            break
        body = dict(body, ExclusiveStartKey=r["LastEvaluatedKey"])
    print(n)


def descendants(pid):
    kids = {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                with open(f"/proc/{e}/stat") as f:
                    s = f.read()
                kids.setdefault(int(s[s.rindex(")") + 2:].split()[1]), []).append(int(e))
            except (OSError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def tree_cpu(pid):
    tck, tot = os.sysconf("SC_CLK_TCK"), 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                s = f.read()
            fl = s[s.rindex(")") + 2:].split()
            tot += int(fl[11]) + int(fl[12])
        except OSError:
            pass
    print(f"{tot / tck:.2f}")


def tree_rss(pid):
    tot = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        tot += int(line.split()[1])
        except OSError:
            pass
    print(tot)


def threads(pid):
    for t in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
        try:
            with open(f"/proc/{pid}/task/{t}/stat") as f:
                st = f.read()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        fl = st[st.rindex(")") + 2:].split()
        print(f"{t}\t{comm}\t{int(fl[11]) + int(fl[12])}")


def threaddiff(a, b, secs):
    tck = os.sysconf("SC_CLK_TCK")

    def load(p):
        d = {}
        with open(p) as f:
            for line in f:
                tid, comm, ticks = line.rstrip("\n").split("\t")
                d[tid] = (comm, int(ticks))
        return d
    da, db = load(a), load(b)
    per = {}
    for tid, (comm, t1) in db.items():
        t0 = da.get(tid, (comm, 0))[1]
        c, n = per.get(comm, (0, 0))
        per[comm] = (c + (t1 - t0), n + 1)
    for comm, (ticks, n) in sorted(per.items(), key=lambda x: -x[1][0]):
        print(f"{comm} ({n} thread{'s' if n > 1 else ''}): {ticks / tck / secs:.2f} cores")


def synclat(path, secs):
    import subprocess
    out = subprocess.run(["perf", "script", "-i", path, "-F", "tid,time,event"], capture_output=True,
                         text=True).stdout
    pending, lat = {}, {}
    for line in out.splitlines():
        f = line.split()
        if len(f) < 3:
            continue
        tid, t, ev = f[0], float(f[1].rstrip(":")), f[2].rstrip(":")
        if "sys_enter_" in ev:
            pending[tid] = t
        elif "sys_exit_" in ev and tid in pending:
            lat.setdefault(tid, []).append(t - pending.pop(tid))
    for tid, v in lat.items():
        v.sort()
        n = len(v)
        print(f"tid {tid}: {n / secs:.0f} fsync+fdatasync/s, latency p50 {v[n // 2] * 1e3:.3f} ms, "
              f"p99 {v[min(n - 1, int(n * 0.99))] * 1e3:.3f} ms, mean {sum(v) / n * 1e3:.3f} ms, "
              f"share of wall time inside: {sum(v) / secs * 100:.0f} %")


def crate_of(dso, sym):
    if dso.startswith("[kernel"):
        return "kernel"
    if dso.startswith("libc"):
        return "libc mem*" if sym.startswith(("__mem", "memcpy", "memmove", "memset", "memcmp")) else "libc"
    if dso != "tributary":
        return dso
    if sym.startswith(("mi_", "_mi_", "mi_theap", "_mi")):
        return "mimalloc"
    s = sym.lstrip("<&")
    for pre in ("tributary_", "redb", "tokio", "hyper", "httparse", "serde_json", "serde", "axum", "hashbrown",
                "bytes", "mio", "tower", "tracing", "uuid", "chrono", "sha2", "alloc", "core", "std"):
        if s.startswith(pre):
            return s.split("::")[0] if pre == "tributary_" else pre
    return "other (tributary binary)"


def perfsummary(path):
    import subprocess
    out = subprocess.run(["perf", "report", "-i", path, "--no-children", "--sort", "comm,dso,sym", "-g", "none",
                          "--percent-limit", "0", "--stdio", "-t", "\t"], capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        f = [x.strip() for x in line.split("\t")]
        if len(f) < 4 or not f[0].endswith("%"):
            continue
        sym = f[3][4:] if f[3][:1] == "[" else f[3]
        rows.append((float(f[0].rstrip("%")), f[1], f[2], sym))
    by_thread, by_crate, by_tc = {}, {}, {}
    for pct, comm, dso, sym in rows:
        c = crate_of(dso, sym)
        by_thread[comm] = by_thread.get(comm, 0) + pct
        by_crate[c] = by_crate.get(c, 0) + pct
        by_tc[(comm, c)] = by_tc.get((comm, c), 0) + pct
    print("self time by thread: " + ", ".join(f"{k} {v:.1f} %" for k, v in sorted(by_thread.items(), key=lambda x: -x[1])))
    print("self time by crate:  " + ", ".join(f"{k} {v:.1f} %" for k, v in sorted(by_crate.items(), key=lambda x: -x[1]) if v >= 0.3))
    for t in sorted(by_thread, key=lambda x: -by_thread[x]):
        print(f"  {t}: " + ", ".join(f"{c} {v:.1f} %" for (tt, c), v in sorted(by_tc.items(), key=lambda x: -x[1])
                                    if tt == t and v >= 0.3))
    print("top self symbols:")
    for pct, comm, dso, sym in sorted(rows, key=lambda r: -r[0])[:30]:
        print(f"  {pct:5.2f} %  {comm:16s} {crate_of(dso, sym):12s} {sym[:110]}")
    out = subprocess.run(["perf", "report", "-i", path, "--children", "--sort", "sym", "-g", "none",
                          "--percent-limit", "0.5", "--stdio"], capture_output=True, text=True).stdout
    keys = ("writer_loop", "run_group", "WriteTransaction::commit", "fdatasync", "fsync", "put_item", "item_from_json",
            "persist_table", "set_item", "commit_change", "serde_json::ser", "to_vec", "dispatch", "parse_body",
            "TransactionalMemory::commit", "flush", "LRUCache", "get_page", "clone", "drop_in_place", "Store::write",
            "pwrite", "writev", "recv", "epoll_wait", "schedule", "futex")
    print("inclusive (children) share of selected functions:")
    seen = set()
    for line in out.splitlines():
        if line.startswith("#") or "%" not in line:
            continue
        f = line.split(None, 4)
        if len(f) < 5:
            continue
        sym = f[4]
        if any(k in sym for k in keys) and sym not in seen:
            seen.add(sym)
            print(f"  {f[0]:>7s} incl  {f[1]:>7s} self  {sym[:120]}")


# ---------------------------------------------------------------------------------------------
# report: rows of results.tsv are
#   run server op conc rps items_per_s p50_ms p99_ms requests non2xx cpu_us_per_req other_cores syncs_per_s
SERVERS = [("tributary-disk", "tributary (durable, fsync per group commit)"),
           ("tributary-mem", "tributary (--in-memory)"),
           ("dynalite-mem", "dynalite (in-memory)"),
           ("dynalite-ldb", "dynalite (LevelDB, no fsync)"),
           ("moto", "moto server"),
           ("null", "null server (harness ceiling)")]
PHASES = [("put", 1), ("put", 16), ("get", 1), ("get", 16), ("batch", 1), ("batch", 16), ("query", 1), ("query", 16)]
OPNAME = {"put": "PutItem", "get": "GetItem", "batch": "BatchWriteItem", "query": "Query"}
RATIOS = [("tributary-disk", "moto"), ("tributary-disk", "dynalite-mem"), ("tributary-disk", "dynalite-ldb"),
          ("tributary-mem", "moto"), ("tributary-mem", "dynalite-mem")]


def fmt_n(x):
    if x is None:
        return "–"
    return f"{x:,.0f}".replace(",", " ") if x >= 100 else f"{x:.1f}"


def fmt_ms(x):
    if x is None:
        return "–"
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def fmt_r(x):
    if x is None:
        return "–"
    return f"**{x:.1f}×**" if x < 100 else f"**{x:.0f}×**"


def report(paths):
    rows = []
    for p in paths:
        with open(p) as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                rows.append(line.rstrip("\n").split("\t"))
    data = {}  # (server, op, conc) -> list of dicts
    runs = set()
    for r in rows:
        (run, srv, op, conc, rps, ips, p50, p99, n, bad, cpu, other, syncs) = r[:13]
        runs.add(run)
        data.setdefault((srv, op, int(conc)), []).append(dict(
            rps=float(rps), ips=float(ips), p50=float(p50), p99=float(p99), n=int(n), bad=int(bad),
            cpu=float(cpu) if cpu not in ("", "n/a") else None, other=float(other),
            syncs=float(syncs) if syncs not in ("", "n/a") else None))

    max_other = float(os.environ.get("MAX_OTHER", "0.15"))
    contaminated = set()

    def clean(srv, op, conc):
        """Rows measured while other processes used <= MAX_OTHER cores; all rows if none was."""
        rs = data.get((srv, op, conc), [])
        good = [d for d in rs if d["other"] <= max_other]
        if rs and not good:
            contaminated.add((srv, op, conc))
        return good or rs

    def med(srv, op, conc, key):
        v = [d[key] for d in clean(srv, op, conc) if d[key] is not None]
        return statistics.median(v) if v else None

    servers = [s for s in SERVERS if any(k[0] == s[0] for k in data)]
    nruns = len(runs)
    what = "median of %d runs" % nruns if nruns > 1 else "1 run"
    hdr = "| server (%s) |" % what
    sep = "|---|"
    for op, conc in PHASES:
        unit = "req/s (items/s)" if op == "batch" else "req/s"
        hdr += f" {OPNAME[op]} c{conc} {unit} | p50 / p99 ms |"
        sep += "---:|---:|"
    print(hdr)
    print(sep)
    for srv, label in servers:
        line = f"| {label} |"
        for op, conc in PHASES:
            rps, p50, p99 = med(srv, op, conc, "rps"), med(srv, op, conc, "p50"), med(srv, op, conc, "p99")
            cell = fmt_n(rps)
            if rps is not None:
                k = len(clean(srv, op, conc))
                cell += "" if (srv, op, conc) not in contaminated else " †"
                cell += "" if k == nruns else f" [{k}]"
            if op == "batch" and rps is not None:
                cell += f" ({fmt_n(med(srv, op, conc, 'ips'))})"
            line += f" {cell} | {fmt_ms(p50)} / {fmt_ms(p99)} |"
        print(line)
    for a, b in RATIOS:
        if not any(s[0] == a for s in servers) or not any(s[0] == b for s in servers):
            continue
        line = f"| ratio {a} / {b} |"
        for op, conc in PHASES:
            ra, rb = med(a, op, conc, "rps"), med(b, op, conc, "rps")
            la50, lb50 = med(a, op, conc, "p50"), med(b, op, conc, "p50")
            la99, lb99 = med(a, op, conc, "p99"), med(b, op, conc, "p99")
            thr = ra / rb if ra and rb else None
            l50 = lb50 / la50 if la50 and lb50 else None
            l99 = lb99 / la99 if la99 and lb99 else None
            line += f" {fmt_r(thr)} | {fmt_r(l50)} / {fmt_r(l99)} |"
        print(line)
    print()
    print("Ratio rows: throughput columns = tributary req/s ÷ peer req/s; latency columns = peer latency ÷ "
          "tributary latency (both: how many times better tributary is; < 1 means the peer is better).")
    print()
    # secondary table: server CPU per request, non-2xx, syncs, contamination
    print("| server | " + " | ".join(f"{OPNAME[op]} c{conc}" for op, conc in PHASES) + " |")
    print("|---|" + "---:|" * len(PHASES))
    for srv, label in servers:
        cells = []
        for op, conc in PHASES:
            cpu = med(srv, op, conc, "cpu")
            cells.append("–" if cpu is None else f"{cpu:.0f}")
        print(f"| {label}: server CPU µs/req (median) | " + " | ".join(cells) + " |")
    for srv, label in servers:
        cells = []
        for op, conc in PHASES:
            rps, syncs = med(srv, op, conc, "rps"), med(srv, op, conc, "syncs")
            if syncs is None or op in ("get", "query"):
                cells.append("–")
            else:
                cells.append(f"{syncs:,.0f} ({syncs / rps:.2f}/req)".replace(",", " ") if rps else f"{syncs:.0f}")
        print(f"| {label}: fsync+fdatasync /s (per req) | " + " | ".join(cells) + " |")
    print(f"† = every run of this cell had other processes using > {max_other} cores (contaminated); "
          f"[k] = median of the k runs (of {nruns}) with other processes ≤ {max_other} cores.")
    print()
    bad = sum(d["bad"] for v in data.values() for d in v)
    maxo = max((d["other"] for v in data.values() for d in v), default=0)
    print()
    print(f"non-2xx responses in all measured runs: {bad}; max CPU used by other processes during a "
          f"measured phase: {maxo:.2f} cores; runs: {', '.join(sorted(runs))}")
    if nruns > 1:
        print()
        print("Per-run PutItem c16 req/s: " + "; ".join(
            f"{srv} " + ", ".join(fmt_n(d["rps"]) + ("*" if d["other"] > max_other else "")
                                  for d in data.get((srv, "put", 16), []))
            for srv, _ in servers) + f" (* = other processes > {max_other} cores, left out)")
        byrun = {}
        for r in rows:
            if r[2] == "put" and r[3] == "16":
                byrun.setdefault(r[0], {})[r[1]] = float(r[4])
        parts = []
        for a, b in RATIOS[:3]:
            v = [f"{d[a] / d[b]:.2f}" for _, d in sorted(byrun.items()) if a in d and b in d and d[b] > 0]
            if v:
                parts.append(f"{a}/{b} " + ", ".join(v))
        print()
        print("Per-run PutItem c16 throughput ratios (same run, all rows): " + "; ".join(parts))


if __name__ == "__main__":
    a = sys.argv[1:]
    if not a:
        raise SystemExit(__doc__)
    cmd = a[0]
    if cmd == "freeport":
        free_port()
    elif cmd == "wait":
        sys.exit(0 if wait_ready(int(a[1]), float(a[2]) if len(a) > 2 else 120) else 1)
    elif cmd == "setup":
        setup(int(a[1]), int(a[2]), int(a[3]))
    elif cmd == "count":
        count(int(a[1]), a[2])
    elif cmd == "tree_cpu":
        tree_cpu(int(a[1]))
    elif cmd == "tree_rss":
        tree_rss(int(a[1]))
    elif cmd == "report":
        report(a[1:])
    elif cmd == "threads":
        threads(int(a[1]))
    elif cmd == "threaddiff":
        threaddiff(a[1], a[2], float(a[3]))
    elif cmd == "perfsummary":
        perfsummary(a[1])
    elif cmd == "synclat":
        synclat(a[1], float(a[2]))
    else:
        raise SystemExit(__doc__)
