"""Durability and concurrency through the real binary: concurrent ADD counters never lose an
update, put-if-absent races have exactly one winner, transactions stay atomic under contention,
writes that change nothing produce no stream record, and a SIGKILL in the middle of a write load
loses no acknowledged write and leaves exactly one stream record per committed write."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from botocore.exceptions import ClientError
from harness import Clients, Env, Tributary, client, error_of, wait_for

S = lambda x: {"S": x}  # noqa: E731
N = lambda x: {"N": str(x)}  # noqa: E731


def stream_arn(env, table):
    return env.c.ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]


def run_threads(n: int, target) -> None:
    errors: list[BaseException] = []

    def wrap(i):
        try:
            target(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]


def test_concurrent_add_never_loses_an_update(env):
    table = env.create_table(view_type="NEW_IMAGE")["TableName"]
    key = {"pk": S("counter")}
    threads, per_thread = 8, 50
    clients = [client("dynamodb", env.server.endpoint) for _ in range(threads)]
    returned: list[list[int]] = [[] for _ in range(threads)]

    def worker(i):
        for _ in range(per_thread):
            r = clients[i].update_item(
                TableName=table, Key=key, UpdateExpression="ADD n :one", ExpressionAttributeValues={":one": N(1)},
                ReturnValues="UPDATED_NEW",
            )  # fmt: skip
            returned[i].append(int(r["Attributes"]["n"]["N"]))

    run_threads(threads, worker)
    total = threads * per_thread
    item = env.c.ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert item["n"] == N(total)
    # Every update saw a distinct value: they were serialized, none overwrote another.
    assert sorted(v for vs in returned for v in vs) == list(range(1, total + 1))
    for vs in returned:
        assert vs == sorted(vs)
    # One stream record per update, in commit order.
    recs = env.stream_records(stream_arn(env, table))
    assert len(recs) == total
    assert [r["eventName"] for r in recs] == ["INSERT"] + ["MODIFY"] * (total - 1)
    assert [int(r["dynamodb"]["NewImage"]["n"]["N"]) for r in recs] == list(range(1, total + 1))
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in recs]
    assert seqs == sorted(seqs) and len(set(seqs)) == total


def test_put_if_absent_race_has_one_winner(env):
    table = env.create_table(view_type="KEYS_ONLY")["TableName"]
    threads, keys = 8, 20
    clients = [client("dynamodb", env.server.endpoint) for _ in range(threads)]
    wins: Counter = Counter()
    lock = threading.Lock()

    def worker(i):
        for k in range(keys):
            try:
                clients[i].put_item(
                    TableName=table, Item={"pk": S(f"k{k}"), "winner": N(i)},
                    ConditionExpression="attribute_not_exists(pk)",
                )  # fmt: skip
                with lock:
                    wins[k] += 1
            except ClientError as e:
                assert error_of(e)[0] == "ConditionalCheckFailedException", e

    run_threads(threads, worker)
    assert all(wins[k] == 1 for k in range(keys)), wins
    assert len(env.stream_records(stream_arn(env, table))) == keys


def test_transactions_stay_atomic_under_contention(env):
    table = env.create_table(view_type=None)["TableName"]
    c = env.c.ddb
    c.put_item(TableName=table, Item={"pk": S("a"), "n": N(0)})
    c.put_item(TableName=table, Item={"pk": S("b"), "n": N(0)})
    threads, per_thread = 6, 25
    clients = [client("dynamodb", env.server.endpoint) for _ in range(threads)]
    ok = [0] * threads

    def worker(i):
        for _ in range(per_thread):
            try:
                clients[i].transact_write_items(
                    TransactItems=[
                        {"Update": {"TableName": table, "Key": {"pk": S("a")}, "UpdateExpression": "ADD n :m",
                                    "ExpressionAttributeValues": {":m": N(-1)}}},
                        {"Update": {"TableName": table, "Key": {"pk": S("b")}, "UpdateExpression": "ADD n :p",
                                    "ExpressionAttributeValues": {":p": N(1)}}},
                    ]
                )  # fmt: skip
                ok[i] += 1
            except ClientError as e:
                # DynamoDB may refuse a transaction that collides with another one in flight.
                assert error_of(e)[0] in ("TransactionCanceledException", "TransactionConflictException",
                                          "TransactionInProgressException"), e  # fmt: skip

    run_threads(threads, worker)
    a = int(c.get_item(TableName=table, Key={"pk": S("a")}, ConsistentRead=True)["Item"]["n"]["N"])
    b = int(c.get_item(TableName=table, Key={"pk": S("b")}, ConsistentRead=True)["Item"]["n"]["N"])
    assert a == -sum(ok) and b == sum(ok), (a, b, ok)
    assert sum(ok) > 0


def test_writes_that_change_nothing_produce_no_record(env):
    table = env.create_table(view_type="NEW_AND_OLD_IMAGES")["TableName"]
    c = env.c.ddb
    key = {"pk": S("k")}
    item = {**key, "a": N(1), "s": {"SS": ["x", "y"]}, "m": {"M": {"n": N("2.50")}}}
    c.put_item(TableName=table, Item=item)  # INSERT
    c.put_item(TableName=table, Item=item)  # identical
    c.put_item(TableName=table, Item={**key, "a": N("1.0"), "s": {"SS": ["y", "x"]}, "m": {"M": {"n": N("25e-1")}}})
    c.update_item(TableName=table, Key=key, UpdateExpression="SET a = :v", ExpressionAttributeValues={":v": N("1.0")})
    c.update_item(TableName=table, Key=key, UpdateExpression="SET m.n = :v", ExpressionAttributeValues={":v": N("2.5")})
    c.update_item(TableName=table, Key=key, UpdateExpression="REMOVE not_there")
    c.update_item(TableName=table, Key=key, UpdateExpression="ADD s :x", ExpressionAttributeValues={":x": {"SS": ["x"]}})
    c.update_item(TableName=table, Key=key, UpdateExpression="DELETE s :z", ExpressionAttributeValues={":z": {"SS": ["z"]}})
    c.update_item(TableName=table, Key=key, UpdateExpression="ADD a :zero", ExpressionAttributeValues={":zero": N(0)})
    c.delete_item(TableName=table, Key={"pk": S("missing")})
    c.update_item(TableName=table, Key={"pk": S("missing2")}, UpdateExpression="REMOVE x")
    c.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item}},
                                             {"DeleteRequest": {"Key": {"pk": S("missing3")}}}]})  # fmt: skip
    c.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": item}}])
    with pytest.raises(ClientError):  # a failed condition
        c.put_item(TableName=table, Item={**key, "a": N(2)}, ConditionExpression="a = :two",
                   ExpressionAttributeValues={":two": N(2)})  # fmt: skip
    with pytest.raises(ClientError):  # a failed validation
        c.update_item(TableName=table, Key=key, UpdateExpression="SET a = :v")
    with pytest.raises(ClientError):  # a cancelled transaction
        c.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": S("tx-new")}}},
            {"ConditionCheck": {"TableName": table, "Key": key, "ConditionExpression": "attribute_not_exists(pk)"}},
        ])  # fmt: skip
    with pytest.raises(ClientError):  # a batch refused by validation
        c.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {"pk": S("bw-new")}}},
                                                 {"PutRequest": {"Item": {"pk": N(1)}}}]})  # fmt: skip
    c.update_item(TableName=table, Key=key, UpdateExpression="SET b = :v", ExpressionAttributeValues={":v": S("x")})
    c.delete_item(TableName=table, Key=key)

    recs = env.stream_records(stream_arn(env, table))
    assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in recs] == [
        ("INSERT", "k"), ("MODIFY", "k"), ("REMOVE", "k")
    ]  # fmt: skip
    assert recs[1]["dynamodb"]["NewImage"]["b"] == S("x") and "b" not in recs[1]["dynamodb"]["OldImage"]
    for k in ("missing2", "tx-new", "bw-new"):
        assert "Item" not in c.get_item(TableName=table, Key={"pk": S(k)}, ConsistentRead=True), k


# --------------------------------------------------------------------------------------------
# crash test


def test_sigkill_mid_load_loses_no_acknowledged_write(tmp_path):
    """A crash loop: three times, eight writers load the durable store (pipelined group
    commits: one group is synced to the log while the next executes), the server is SIGKILLed
    mid-load and restarted on the same data dir. After each restart every acknowledged write is
    there, nothing is there that was never attempted, and every committed write has exactly
    one stream record, in order. At least one restart must have replayed the write-ahead log
    (with a checkpoint every 100 ms and a commit every millisecond, a kill that finds nothing
    after the checkpoint is a 1-in-100 event; three in a row, one in a million)."""
    log_path = tmp_path / "tributary.log"
    srv = Tributary(data_dir=tmp_path / "data", log_path=log_path)
    srv.start()
    threads = 8
    rounds = 3
    try:
        env = Env(srv, Clients(srv.endpoint), tmp_path)
        table = env.create_table(view_type="NEW_IMAGE")["TableName"]
        all_attempted: set[str] = set()
        all_acked: set[str] = set()
        # Per writer: the counter as the last restart found it, and this round's ADDs.
        counter_base = [0] * threads
        replays = 0
        after_keys: set[str] = set()
        for round_ in range(rounds):
            clients = [client("dynamodb", srv.endpoint) for _ in range(threads)]
            attempted: list[set[str]] = [set() for _ in range(threads)]
            acked: list[set[str]] = [set() for _ in range(threads)]
            adds_attempted = [0] * threads
            adds_acked = [0] * threads
            stop = threading.Event()

            def writer(i, attempted=attempted, acked=acked, adds_attempted=adds_attempted,
                       adds_acked=adds_acked, stop=stop, clients=clients, round_=round_):  # fmt: skip
                n = 0
                while not stop.is_set():
                    key = f"r{round_}-w{i}-{n:06d}"
                    attempted[i].add(key)
                    try:
                        clients[i].put_item(TableName=table, Item={"pk": S(key), "v": N(n), "pad": S("p" * 200)})
                    except Exception:  # noqa: BLE001 - the server died under us
                        return
                    acked[i].add(key)
                    adds_attempted[i] += 1
                    try:
                        clients[i].update_item(
                            TableName=table, Key={"pk": S(f"counter-{i}")}, UpdateExpression="ADD n :one",
                            ExpressionAttributeValues={":one": N(1)},
                        )  # fmt: skip
                    except Exception:  # noqa: BLE001
                        return
                    adds_acked[i] += 1
                    n += 1

            workers = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(threads)]
            for w in workers:
                w.start()
            wait_for(lambda acked=acked: sum(len(a) for a in acked) >= 400, "400 acknowledged writes", timeout=20)
            srv.kill()  # SIGKILL to the whole process group, mid-load
            stop.set()
            for w in workers:
                w.join(30)
                assert not w.is_alive()
            all_attempted |= set().union(*attempted)
            all_acked |= set().union(*acked)
            assert len(all_acked) >= 400 * (round_ + 1)

            before = log_path.read_text(errors="replace").count("replayed the write-ahead log")
            srv.start()  # same data dir, same port
            if log_path.read_text(errors="replace").count("replayed the write-ahead log") > before:
                replays += 1
            c = env.c.ddb
            present: dict[str, dict] = {}
            kw: dict = {"TableName": table, "ConsistentRead": True}
            while True:
                page = c.scan(**kw)
                for it in page["Items"]:
                    present[it["pk"]["S"]] = it
                if "LastEvaluatedKey" not in page:
                    break
                kw["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            puts_present = {k for k in present if k.startswith("r")}

            lost = all_acked - puts_present
            assert not lost, f"round {round_}: {len(lost)} acknowledged writes lost, e.g. {sorted(lost)[:5]}"
            assert puts_present <= all_attempted, sorted(puts_present - all_attempted)[:5]

            recs = env.stream_records(stream_arn(env, table))
            per_key = Counter(r["dynamodb"]["Keys"]["pk"]["S"] for r in recs
                              if r["dynamodb"]["Keys"]["pk"]["S"].startswith("r"))  # fmt: skip
            dupes = {k: n for k, n in per_key.items() if n != 1}
            assert not dupes, f"round {round_}: keys with more than one record: {list(dupes.items())[:5]}"
            assert set(per_key) == puts_present, (
                f"records without items: {sorted(set(per_key) - puts_present)[:5]}; "
                f"items without records: {sorted(puts_present - set(per_key))[:5]}"
            )
            for r in recs:
                k = r["dynamodb"]["Keys"]["pk"]["S"]
                if k.startswith("r"):
                    assert r["eventName"] == "INSERT" and r["dynamodb"]["NewImage"] == present[k], k
            # Counters: every acknowledged ADD survived, and each surviving one has exactly one
            # record, numbered in order across every crash so far.
            for i in range(threads):
                item = present.get(f"counter-{i}")
                value = int(item["n"]["N"]) if item else 0
                lo, hi = counter_base[i] + adds_acked[i], counter_base[i] + adds_attempted[i]
                assert lo <= value <= hi, (round_, i, lo, value, hi)
                counter_base[i] = value
                counter_recs = [r for r in recs if r["dynamodb"]["Keys"]["pk"]["S"] == f"counter-{i}"]
                assert [int(r["dynamodb"]["NewImage"]["n"]["N"]) for r in counter_recs] == list(range(1, value + 1))
            after = {k for k in present if k.startswith("after-restart")}
            assert after == after_keys, (after, after_keys)
            seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in recs]
            assert len(set(seqs)) == len(seqs)

            # The restarted server carries on: new writes get new, later records.
            key = f"after-restart-{round_}"
            c.put_item(TableName=table, Item={"pk": S(key)})
            after_keys.add(key)
            recs2 = wait_for(
                lambda recs=recs: (lambda rs: rs if len(rs) == len(recs) + 1 else None)(
                    env.stream_records(stream_arn(env, table))),
                "the record of a write made after the restart",
            )  # fmt: skip
            assert recs2[-1]["dynamodb"]["Keys"] == {"pk": S(key)}
            assert int(recs2[-1]["dynamodb"]["SequenceNumber"]) > max(seqs)
        assert replays >= 1, "no restart replayed the write-ahead log: the crash test did not test it"
    finally:
        if srv.proc is not None:
            srv.stop_cleanly()
        else:
            srv.kill()
