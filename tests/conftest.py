"""Fixtures shared by every test layer, and how the tests share a run of pytest-xdist's
workers (`make test`): each worker its own ports, one worker per stack, timing tests alone."""

import fcntl
import os
import sys
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import pytest
from sqlalchemy import event
from sqlalchemy.pool import Pool

from services import processes
from shared.db.loop_guard import forbid_on_event_loop
from tests.databases import postgres_database, sqlite_database


def _keep_this_workers_ports_apart() -> None:
    """Under pytest-xdist each worker process picks free ports by itself and remembers only
    the ones it handed out: two workers could hand out the same port before either's server
    binds it (a stack binds its last port seconds after choosing it, and a restarted service
    binds its old port again). So each worker takes only the ports whose number, modulo the
    number of workers, is its own index. Set before any test module imports `free_port`."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count < 2:
        return
    index, chosen = int(worker.removeprefix("gw")), processes.free_port
    low, _ = processes._ephemeral_range()

    def free_port() -> int:
        for _ in range(1000):
            port = chosen()
            # At or above `low`: the kernel's own choice on a crowded machine, which no other
            # process is handed while it is free.
            if port % count == index or port >= low:
                return port
        raise RuntimeError(f"no free port for worker {worker} of {count}")

    for module in list(sys.modules.values()):
        if getattr(module, "free_port", None) is chosen:
            module.free_port = free_port  # type: ignore[attr-defined]


_keep_this_workers_ports_apart()


@pytest.fixture(scope="session", autouse=True)
def no_database_work_on_an_event_loop() -> Iterator[None]:
    """A pooled connection checked out in this process on a thread that runs an event loop
    fails its test (shared.db.engine.EventLoopBlocked): such work stalls every request. Only a
    test's own code (its set-up, its checks) may read the database so; the services it drives
    (over ASGI, in their own tasks) may not. The e2e stacks set DATABASE_LOOP_GUARD."""
    listener = forbid_on_event_loop(Pool, unless=_asked_by_a_test)
    yield
    event.remove(Pool, "checkout", listener)


ROOT = Path(__file__).resolve().parents[1]
TESTS, SERVICES = str(ROOT / "tests"), str(ROOT / "services")


def _asked_by_a_test() -> bool:
    """Whether the nearest caller of ours (services/ or tests/; shared/ serves both) is a
    test's code rather than a service's."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(SERVICES):
            return False
        if name.startswith(TESTS):
            return True
        frame = frame.f_back
    return False


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database; every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        with sqlite_database(tmp_path) as url:
            yield url
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    with sqlite_database(tmp_path) as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> Iterator[None]:
    """For `--dist loadgroup` (`make test`): the tests that share a module- or package-scoped
    fixture (a stack, a server, a browser) go to one worker as one group, so it starts once,
    as in a serial run, rather than once per worker or again whenever a worker switches
    modules. A fixture's parameters split its group (the SQLite stack's tests on one worker,
    the PostgreSQL stack's on another). An explicit `xdist_group` mark wins."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None and (group := _shared_scope(item)):
            item.add_marker(pytest.mark.xdist_group(group))
    yield
    if getattr(config.option, "loadgroup", False):  # an xdist worker, grouping
        for item in items:
            _show_group_to_xdist(item)


def _show_group_to_xdist(item: pytest.Item) -> None:
    """xdist learns a test's group from the "@group" its worker appends to the test's id;
    pytest 9.2 keeps node ids in `_id`, so xdist 3.8's append no longer takes effect and the
    groups are silently ignored (pytest-dev/pytest-xdist#1386). Do it here until xdist does."""
    marks = item.iter_markers("xdist_group")
    names = sorted(
        {str(mark.args[0] if mark.args else mark.kwargs.get("name", "default")) for mark in marks}
    )
    if not names or "@" in item.nodeid.rpartition("]")[2]:
        return  # no group, or xdist appended it
    from _pytest.nodeid import NodeId

    suffix = "@" + "_".join(names)
    item._id = NodeId.parse(item.nodeid + suffix)
    assert item.nodeid.endswith(suffix), "xdist would not see the groups: see tests/conftest.py"


def _shared_scope(item: pytest.Item) -> str | None:
    """The group of a test that uses a package- or module-scoped fixture: the package or the
    module, with the values of that scope's fixture parameters. None for any other test."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    widest: dict[str, dict[str, str]] = {"package": {}, "module": {}}
    for name, definitions in info.name2fixturedefs.items():
        if definitions and (scope := definitions[-1].scope) in widest:
            widest[scope][name] = definitions[-1].baseid
    scope = "package" if widest["package"] else "module" if widest["module"] else None
    if scope is None:
        return None
    # A package's fixtures live in its conftest.py (their baseid is the package).
    where = min(widest[scope].values()) if scope == "package" else item.nodeid.split("::")[0]
    callspec = getattr(item, "callspec", None)
    params = [
        f"{name}={callspec.params[name]}"
        for name in sorted(widest[scope])
        if callspec is not None and name in callspec.params
    ]
    # xdist reads the group after the last "@" of a test's id, and only past its last "]".
    group = " ".join([where, *params])
    return group.translate(str.maketrans("[]@", "()_"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Under xdist, a test runs (set-up and teardown too) while no `exclusive` test does."""
    room = _room(item.config)
    if room is None or item.get_closest_marker("exclusive"):
        return (yield)
    with _flocked(room.with_suffix(".door"), fcntl.LOCK_EX):
        pass  # not past an exclusive test waiting for the room
    with _flocked(room, fcntl.LOCK_SH):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """An `exclusive` test (one that measures time under load) runs alone: the other workers
    finish the test they are in and wait. Its set-up (a stack's start) needs no such quiet."""
    room = _room(item.config)
    if room is None or not item.get_closest_marker("exclusive"):
        return (yield)
    with _flocked(room.with_suffix(".door"), fcntl.LOCK_EX), _flocked(room, fcntl.LOCK_EX):
        return (yield)


def _room(config: pytest.Config) -> Path | None:
    """The lock file the workers of this run share (in the parent of their basetemps)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return None
    return Path(config.getoption("basetemp")).parent / "tests.lock"


@contextmanager
def _flocked(path: Path, how: int) -> Iterator[None]:
    with path.open("a") as file:
        fcntl.flock(file, how)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)
