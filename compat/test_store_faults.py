"""The store under a full disk, through the real binary: the data directory is a small tmpfs,
filled until a PutItem meets ENOSPC. Health then answers 503 with the reason, writes answer
InternalServerError, and once space returns (a ballast file is deleted) the store reopens by
itself: every acknowledged write is there, the failed one is not, and a restart keeps them.

Mounting a tmpfs needs root (CAP_SYS_ADMIN); without it the test is skipped and says so. The
store's own tests (crates/store/src/tests.rs) cover the same path with a fault-injecting backend
on any machine."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from harness import Tributary, client, error_of, wait_for


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.decode().strip() or 'not root'})")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def health(server) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{server.endpoint}/_tributary/health", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_a_full_disk_fails_writes_cleanly_and_the_store_comes_back(small_disk, tmp_path):
    ballast = small_disk / "ballast"
    ballast.write_bytes(b"\0" * (6 << 20))
    server = Tributary(small_disk / "data", tmp_path / "server.log")
    server.start()
    try:
        ddb = client("dynamodb", server.endpoint)
        ddb.create_table(
            TableName="full",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        payload = os.urandom(30_000).hex()  # 60 kB, incompressible
        acknowledged = []
        failure = None
        for i in range(2_000):
            try:
                ddb.put_item(TableName="full", Item={"pk": {"S": f"k{i}"}, "v": {"S": payload}})
                acknowledged.append(f"k{i}")
            except ClientError as e:
                failure = (f"k{i}", error_of(e))
                break
        assert failure is not None, "the disk never filled up"
        failed_key, (code, status, _) = failure
        assert (code, status) == ("InternalServerError", 500), failure
        assert len(acknowledged) > 10, acknowledged

        status, body = health(server)
        assert status == 503, body
        assert body["status"] == "failed", body
        assert "No space left on device" in body["reason"], body
        with pytest.raises(ClientError) as e:
            ddb.put_item(TableName="full", Item={"pk": {"S": "while-full"}, "v": {"S": payload}})
        assert error_of(e.value)[:2] == ("InternalServerError", 500)

        ballast.unlink()
        wait_for(lambda: health(server)[0] == 200, "the store to reopen once the disk has room", timeout=30)
        ddb.put_item(TableName="full", Item={"pk": {"S": "after"}})
        for k in [acknowledged[0], acknowledged[-1], "after"]:
            assert "Item" in ddb.get_item(TableName="full", Key={"pk": {"S": k}}, ConsistentRead=True), k
        for k in [failed_key, "while-full"]:
            assert "Item" not in ddb.get_item(TableName="full", Key={"pk": {"S": k}}, ConsistentRead=True), k

        server.stop_cleanly()
        server.start()
        ddb = client("dynamodb", server.endpoint)
        pages = ddb.get_paginator("scan").paginate(TableName="full", Select="COUNT", ConsistentRead=True)
        got = sum(page["Count"] for page in pages)
        assert got == len(acknowledged) + 1, (got, len(acknowledged))
    finally:
        if server.proc is not None:
            server.kill()
