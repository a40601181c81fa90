"""Fixtures for the end-to-end tests: one `tributary serve` per test module (a test group) on a
fresh data directory, boto3 clients, the AWS CLI, and per-test scratch space."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import AwsCli, Clients, Env, Tributary


@pytest.fixture(scope="module")
def server(tmp_path_factory, request):
    """The real binary, started once for the module; SIGTERM at the end must exit 0. A module's
    `SERVER_ARGS` list adds flags (e.g. `["--stream-shards", "4"]`)."""
    base = tmp_path_factory.mktemp(Path(request.module.__file__).stem)
    srv = Tributary(
        data_dir=base / "data",
        log_path=base / "tributary.log",
        extra_args=getattr(request.module, "SERVER_ARGS", None),
    )
    srv.start()
    request.module._tributary_server = srv
    yield srv
    if srv.proc is not None:  # a failed restart may have left it stopped
        srv.stop_cleanly()


@pytest.fixture(scope="module")
def clients(server) -> Clients:
    return Clients(server.endpoint)


@pytest.fixture(autouse=True)
def _server_alive(request):
    """Fail fast, with the server log, when an earlier test left the module's server dead or hung."""
    if "server" not in request.fixturenames:
        return
    srv = request.getfixturevalue("server")
    if srv.proc is None or srv.proc.poll() is not None or srv.health() is None:
        pytest.fail(f"tributary is not running or not healthy:\n{srv.log_tail()}")


@pytest.fixture
def env(server, clients, tmp_path) -> Env:
    return Env(server, clients, tmp_path)


@pytest.fixture
def aws(server, tmp_path) -> AwsCli:
    """`aws(*args)` runs the AWS CLI against the server with the test's tmp dir as working dir."""
    return AwsCli(server.endpoint, tmp_path)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        srv = getattr(item.module, "_tributary_server", None)
        if srv is not None:
            report.sections.append(("tributary log (tail)", srv.log_tail()))
    return report
