"""A clean restart (SIGTERM, then `serve` again on the same --data-dir) keeps tables, items,
streams, functions and mappings, and every mapping resumes at its checkpoint: no record is lost
and none is delivered twice."""

from __future__ import annotations

import json
import time

from harness import wait_for


def put_keys(env, table, keys):
    for k in keys:
        env.c.ddb.put_item(TableName=table, Item={"pk": {"S": k}, "n": {"N": "1"}})


def keys_of(records):
    return [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]


def test_restart_resumes_at_the_checkpoint(env, server):
    c = env.c
    fn, log = env.recorder()
    t = env.create_table()
    table, stream_arn = t["TableName"], t["LatestStreamArn"]
    u = env.create_mapping(fn, stream_arn, "TRIM_HORIZON")["UUID"]
    put_keys(env, table, ["k1", "k2", "k3"])
    assert keys_of(log.wait_records(3)) == ["k1", "k2", "k3"]

    server.restart()

    # State survived.
    assert c.ddb.get_item(TableName=table, Key={"pk": {"S": "k2"}})["Item"] == {"pk": {"S": "k2"}, "n": {"N": "1"}}
    d = c.ddb.describe_table(TableName=table)["Table"]
    assert d["LatestStreamArn"] == stream_arn
    assert d["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert fn in [f["FunctionName"] for f in c.lam.list_functions()["Functions"]]
    assert [m["UUID"] for m in c.lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]] == [u]
    env.wait_mapping_state(u, "Enabled")
    old = env.stream_records(stream_arn)
    assert keys_of(old) == ["k1", "k2", "k3"]

    # New writes continue the same stream, after the old records, and only they are delivered:
    # records come in order, so a redelivery of k1..k3 would show up before k5.
    put_keys(env, table, ["k4", "k5"])
    records = log.wait_records(5)
    assert keys_of(records) == ["k1", "k2", "k3", "k4", "k5"]
    all_records = env.stream_records(stream_arn)
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in all_records]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    assert [r["eventID"] for r in records] == [r["eventID"] for r in all_records]


def test_records_written_while_disabled_survive_a_restart(env, server):
    c = env.c
    fn, log = env.recorder()
    t = env.create_table()
    table, stream_arn = t["TableName"], t["LatestStreamArn"]
    u = env.create_mapping(fn, stream_arn, "TRIM_HORIZON")["UUID"]
    put_keys(env, table, ["a1", "a2"])
    assert keys_of(log.wait_records(2)) == ["a1", "a2"]

    c.lam.update_event_source_mapping(UUID=u, Enabled=False)
    env.wait_mapping_state(u, "Disabled")
    put_keys(env, table, ["b1", "b2", "b3"])

    server.restart()

    # Still disabled after the restart: nothing new arrives.
    assert c.lam.get_event_source_mapping(UUID=u)["State"] == "Disabled"
    time.sleep(1.0)
    assert keys_of(log.records()) == ["a1", "a2"]

    c.lam.update_event_source_mapping(UUID=u, Enabled=True)
    env.wait_mapping_state(u, "Enabled")
    assert keys_of(log.wait_records(5)) == ["a1", "a2", "b1", "b2", "b3"]
    put_keys(env, table, ["c1"])
    assert keys_of(log.wait_records(6)) == ["a1", "a2", "b1", "b2", "b3", "c1"]


def test_failing_batch_is_still_pending_after_a_restart(env, server, tmp_path):
    """A batch the function has not yet accepted is not checkpointed: after a restart it is
    delivered (again) until it succeeds, and then exactly once successfully."""
    flag = tmp_path / "fail"
    flag.write_text("")
    fn, log = env.recorder(fail_flag=flag)
    t = env.create_table()
    table, stream_arn = t["TableName"], t["LatestStreamArn"]
    put_keys(env, table, ["p1", "p2"])
    env.create_mapping(fn, stream_arn, "TRIM_HORIZON")
    wait_for(lambda: any(i["failed"] for i in log.invocations()), "a failed attempt", timeout=20)

    server.restart()
    flag.unlink()
    assert keys_of(log.wait_records(2, timeout=20)) == ["p1", "p2"]
    put_keys(env, table, ["p3"])
    assert keys_of(log.wait_records(3)) == ["p1", "p2", "p3"]


def test_queued_event_invokes_survive_a_restart(env, server, tmp_path):
    """`Event` invokes are kept in the store until their outcome is known, as Lambda's event
    queue keeps them: five events that failed their first attempt and wait for their retry
    run after a restart (SIGTERM) and after a SIGKILL, each to exactly one success."""
    flag = tmp_path / "fail"
    flag.write_text("")
    fn, log = env.recorder(fail_flag=flag)
    for n in range(5):
        r = env.c.lam.invoke(FunctionName=fn, InvocationType="Event", Payload=json.dumps({"n": n}).encode())
        assert r["StatusCode"] == 202
    # Each ran once and failed; the retries are due a minute later on the server clock.
    wait_for(lambda: len(log.invocations()) >= 5, "five failed first attempts", timeout=30)
    assert sorted(i["event"]["n"] for i in log.invocations()) == [0, 1, 2, 3, 4]

    server.restart()
    time.sleep(0.5)  # the resumed events wait for their due time, not for this
    assert len(log.invocations()) == 5, "a resumed event ran before its retry was due"
    server.kill()
    server.start()
    flag.unlink()
    env.advance_clock(61)
    done = wait_for(
        lambda: s if len(s := log.successful()) >= 5 else None,
        "the five events to succeed after the restarts",
        timeout=30,
    )
    assert sorted(i["event"]["n"] for i in done) == [0, 1, 2, 3, 4]
    time.sleep(0.5)
    assert len(log.successful()) == 5, "an event succeeded twice"
