"""Tailing the way a log shipper must: rename and copytruncate rotation,
files created, deleted and replaced while followed, rotation while the
exporter is stopped (state file), many files, SIGHUP rescans, an unusable
state file, and a prompt, exact shutdown.

Every entry is one line of exactly ENTRY_BYTES bytes: more than the 256-byte
fingerprint, so a new file is read at once (a shorter one is held back for up
to 1 s) and its first 256 bytes (which hold a unique requestId) tell it apart
from every other file. Counts are exact: openai_api_requests_total (all
series) and ailog_exporter_lines_read_total must both equal the entries
written, never more."""

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from harness import Exporter, committed_counters, describe, first_answer, run_tests, shortfalls, value, wait_until

ENTRY_BYTES = 300


def entry(rid):
    """A complete "succeeded" entry of exactly ENTRY_BYTES bytes, newline included."""
    head = ('{"level":"info","message":"executeParse - succeeded","requestId":"%s","capability":"parse-task",'
            '"operation":"core","result":{"durationMs":12,"usage":{"tokens":{"input":10,"output":5}}},'
            '"timestamp":"2025-06-01T12:00:01.000Z","detail":"' % rid)
    line = head + "x" * (ENTRY_BYTES - len(head) - 3) + '"}\n'
    assert len(line) == ENTRY_BYTES, len(line)
    return line


def entries(tag, n):
    return "".join(entry(f"{tag}-{i}") for i in range(n))


def append(path, text):
    with open(path, "ab") as f:
        f.write(text.encode())


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="ailog-tail-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def serve(*args):
    # Log timestamps are from 2025: never evict start entries by wall-clock age.
    return Exporter(["--correlation.max-age", "100000d", "--log.level", os.environ.get("AILOG_LOG_LEVEL", "info")]
                    + list(args))


def requests_total(samples):
    return sum(v for (name, _), v in samples.items() if name == "openai_api_requests_total")


def counts(samples):
    return requests_total(samples), value(samples, "ailog_exporter_lines_read_total")


def wait_count(e, n, timeout=20.0):
    """Waits until n entries are counted, then checks it is exactly n."""
    last = [None]

    def reached():
        last[0] = counts(e.samples())
        return last[0][0] >= n and last[0][1] >= n

    try:
        wait_until(reached, timeout=timeout, what=f"{n} entries counted")
    except AssertionError as x:
        raise AssertionError(f"{x}; last seen (requests, lines) = {last[0]}") from None
    got = counts(e.samples())
    assert got == (n, n), f"(requests, lines) = {got}, want {n} of each"


def rescan_seconds(e):
    """The exporter's --files.rescan-interval, in seconds (5 by default)."""
    args = list(e.proc.args)
    if "--files.rescan-interval" not in args:
        return 5.0
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", args[args.index("--files.rescan-interval") + 1])
    assert m, args
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def assert_idle_and_exact(e, n):
    """Counts stay exactly n for half a second longer than the exporter's
    rescan interval, so that a periodic rescan (where late rotation and
    truncation checks run) happens meanwhile; nothing is left half-read, and
    the bytes are those of n whole entries. Exporters checked with it are
    started with a short --files.rescan-interval, to keep this short."""
    seconds = rescan_seconds(e) + 0.5
    assert seconds <= 5, "start the exporter with a short --files.rescan-interval"
    deadline = time.monotonic() + seconds
    while True:
        s = e.samples()
        assert counts(s) == (n, n), f"(requests, lines) = {counts(s)}, want {n} of each"
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    assert value(s, "ailog_exporter_pending_bytes") == 0, value(s, "ailog_exporter_pending_bytes")
    assert value(s, "ailog_exporter_bytes_read_total") == n * ENTRY_BYTES, value(s, "ailog_exporter_bytes_read_total")
    return s


def files_watched(e):
    return value(e.samples(), "ailog_exporter_files_watched")


def sigterm(e, within=5.0):
    """SIGTERM; the exporter must exit with 0 within `within` seconds."""
    t0 = time.monotonic()
    e.proc.send_signal(signal.SIGTERM)
    try:
        rc = e.proc.wait(timeout=within)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running {within}s after SIGTERM") from None
    assert rc == 0, f"exit code {rc}: {e.stderr()[-2000:]}"
    return time.monotonic() - t0


def freeze(e):
    """SIGSTOP, and wait until every thread is stopped: what is done to the
    files meanwhile happens before the exporter can notice any of it."""
    e.proc.send_signal(signal.SIGSTOP)

    def all_stopped():
        for stat in glob.glob(f"/proc/{e.proc.pid}/task/*/stat"):
            with open(stat) as f:
                if f.read().rsplit(")", 1)[1].split()[0] not in ("T", "t"):
                    return False
        return True

    wait_until(all_stopped, timeout=5, what="the exporter stopped")


def thaw(e):
    e.proc.send_signal(signal.SIGCONT)


# 1
def test_rename_rotation_directory():
    N, K, M = 12, 7, 5
    with TempDir() as d:
        log = os.path.join(d, "app.log")
        append(log, entries("a", N))
        with serve("--start-at", "beginning", "--files.rescan-interval", "1s", d) as e:
            wait_count(e, N)
            os.rename(log, log + ".1")
            append(log + ".1", entries("b", K))  # the service still writes to its old descriptor
            append(log, entries("c", M))
            wait_count(e, N + K + M)
            s = assert_idle_and_exact(e, N + K + M)
            assert value(s, "ailog_exporter_file_rotations_total") >= 1
            assert value(s, "ailog_exporter_files_watched") == 2  # both names are in the directory
            # Both files are still followed.
            append(log + ".1", entries("d", 1))
            append(log, entries("e", 1))
            wait_count(e, N + K + M + 2)


# 2
def test_rename_rotation_out_of_the_glob():
    N, K, M = 10, 6, 4
    with TempDir() as d:
        log = os.path.join(d, "app.log")
        append(log, entries("a", N))
        with serve("--start-at", "beginning", "--files.rescan-interval", "1s", os.path.join(d, "*.log")) as e:
            wait_count(e, N)
            assert files_watched(e) == 1
            freeze(e)  # all of the rotation happens before the exporter notices it
            try:
                os.rename(log, log + ".1")
                append(log + ".1", entries("b", K))  # the service still writes to its old descriptor
                append(log, entries("c", M))
            finally:
                thaw(e)
            wait_count(e, N + K + M)
            wait_until(lambda: files_watched(e) == 1, timeout=15, what="the rotated-away file closed")
            s = assert_idle_and_exact(e, N + K + M)
            assert value(s, "ailog_exporter_file_rotations_total") >= 1
            assert "closing rotated-away" in e.stderr(), e.stderr()[-2000:]


# 3
def test_copytruncate_with_copy_beside():
    N, M = 20, 5
    with TempDir() as d:
        log = os.path.join(d, "app.log")
        append(log, entries("a", N))
        with serve("--start-at", "beginning", "--files.rescan-interval", "1s", d) as e:
            wait_count(e, N)
            shutil.copyfile(log, log + ".1")
            with open(log, "r+") as f:
                f.truncate(0)
            append(log, entries("b", M))
            wait_count(e, N + M)
            s = assert_idle_and_exact(e, N + M)
            assert value(s, "ailog_exporter_file_truncations_total") >= 1
            assert value(s, "ailog_exporter_files_watched") == 2


# 3, variant: the copy holds entries the exporter may not have read yet.
def test_copytruncate_right_after_a_write():
    N, X, M = 10, 4, 3
    FREE, FROZEN = 5, 2
    with TempDir() as d:
        log = os.path.join(d, "app.log")
        append(log, entries("a", N))
        with serve("--start-at", "beginning", "--files.rescan-interval", "1s", d) as e:
            wait_count(e, N)
            total = N
            for r in range(1, FREE + FROZEN + 1):
                # No waiting between the write, the copy and the truncation.
                # app.log ends up no longer than what the exporter had read
                # of it (M entries now, at least M before). In the last
                # rounds the exporter is frozen meanwhile, so the copy
                # certainly holds the X entries it has not read.
                frozen = r > FREE
                if frozen:
                    freeze(e)
                try:
                    append(log, entries(f"x{r}", X))
                    shutil.copyfile(log, f"{log}.{r}")
                    with open(log, "r+") as f:
                        f.truncate(0)
                    append(log, entries(f"m{r}", M))
                finally:
                    if frozen:
                        thaw(e)
                total += X + M
                wait_count(e, total)
            s = assert_idle_and_exact(e, total)
            assert value(s, "ailog_exporter_file_truncations_total") == FREE + FROZEN, \
                value(s, "ailog_exporter_file_truncations_total")


# Copytruncate noticed late: when the exporter looks again, the truncated file
# has already grown past the old offset, and no copy appeared beside it. Its
# first bytes changed, so it must be read again from 0, and only once.
def test_copytruncate_noticed_after_the_file_grew_back():
    N, M = 5, 20
    with TempDir() as d, TempDir() as elsewhere:
        log = os.path.join(d, "app.log")
        append(log, entries("a", N))
        with serve("--start-at", "beginning", "--files.rescan-interval", "1s", d) as e:
            wait_count(e, N)
            freeze(e)  # busy, say: the whole rotation happens before it looks
            try:
                shutil.copyfile(log, os.path.join(elsewhere, "app.log.1"))
                with open(log, "r+") as f:
                    f.truncate(0)
                append(log, entries("b", M))
            finally:
                thaw(e)
            wait_count(e, N + M)
            s = assert_idle_and_exact(e, N + M)
            assert value(s, "ailog_exporter_file_truncations_total") == 1


# 4
def test_create_delete_cycles():
    ROUNDS = 20
    with TempDir() as d:
        with serve("--files.rescan-interval", "1s", d) as e:
            total = 0
            for i in range(ROUNDS):
                path = os.path.join(d, f"f{i}.log")
                append(path, entries(f"f{i}", i + 1))
                total += i + 1
                wait_count(e, total)
                os.unlink(path)
            wait_until(lambda: files_watched(e) == 0, timeout=10, what="every deleted file closed")
            assert_idle_and_exact(e, total)


# 5
def test_file_created_after_start():
    for glob_path in (False, True):
        with TempDir() as d:
            path = os.path.join(d, "*.log") if glob_path else d
            with serve("--files.rescan-interval", "1s", path) as e:
                wait_until(lambda: e.get("/-/ready")[0] == 200, what="ready")
                assert files_watched(e) == 0
                append(os.path.join(d, "app.log"), entries("a", 3))
                wait_count(e, 3)
                assert files_watched(e) == 1
                append(os.path.join(d, "app.log"), entries("b", 2))
                wait_count(e, 5)


# 5, event-driven: directories are watched with inotify; the periodic rescan
# is only a safety net, so with an hour between rescans a file created in a
# directory that was empty at start must still be found at once.
def test_file_created_in_empty_directory_is_found_without_rescan():
    for glob_path in (False, True):
        with TempDir() as d:
            path = os.path.join(d, "*.log") if glob_path else d
            with serve("--files.rescan-interval", "1h", path) as e:
                wait_until(lambda: e.get("/-/ready")[0] == 200, what="ready")
                append(os.path.join(d, "app.log"), entries("a", 3))
                try:
                    wait_count(e, 3, timeout=5)
                except AssertionError as x:
                    raise AssertionError(f"PATH {'glob' if glob_path else 'directory'}: {x}") from None


# 6
def test_deleted_while_open():
    N, K = 8, 6
    with TempDir() as d:
        log = os.path.join(d, "app.log")
        open(log, "wb").close()
        with serve("--files.rescan-interval", "1s", d) as e:
            wait_until(lambda: files_watched(e) == 1, what="app.log followed")
            with open(log, "ab", buffering=0) as h:
                h.write(entries("a", N).encode())
                wait_count(e, N)
                # The deletion and the writes after it all happen before the
                # exporter looks: it must read the file to its end.
                freeze(e)
                try:
                    os.unlink(log)
                    for i in range(3):
                        h.write(entries(f"b{i}", K // 3).encode())
                finally:
                    thaw(e)
            wait_count(e, N + K)
            wait_until(lambda: files_watched(e) == 0, timeout=10, what="the deleted file closed")
            s = assert_idle_and_exact(e, N + K)
            assert value(s, "ailog_exporter_file_rotations_total") >= 1


class HeldCommit:
    """Holds the exporter's next state commit, as a stalled disk would: a
    commit writes STATE.tmp, then renames it over STATE, and with a FIFO at
    STATE.tmp its open() blocks until release() opens the FIFO for reading.
    That commit then fails (a FIFO cannot be fsync'ed), which the exporter
    counts in ailog_exporter_state_write_failures_total; the next one is
    written as usual, the FIFO being gone by then."""

    def __init__(self, state):
        self.path = state + ".tmp"
        os.mkfifo(self.path)
        self.fd = None
        self.stop = threading.Event()
        self.drain = threading.Thread(target=self._drain, daemon=True)

    def _drain(self):
        while not self.stop.is_set():
            try:
                if not os.read(self.fd, 1 << 16):
                    time.sleep(0.01)  # no writer yet, or it is done
            except BlockingIOError:
                time.sleep(0.01)

    def held(self, e):
        """Whether a thread of the exporter waits in the FIFO's open()."""
        for wchan in glob.glob(f"/proc/{e.proc.pid}/task/*/wchan"):
            with open(wchan) as f:
                if f.read().strip() == "wait_for_partner":
                    return True
        return False

    def release(self):
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            os.unlink(self.path)
            self.drain.start()

    def close(self):
        """Once the exporter is past the held commit (it has answered 200)."""
        self.release()
        self.stop.set()
        self.drain.join()
        os.close(self.fd)


def read_position(e, path):
    """The offset of the exporter's descriptor on `path`: how far it has read."""
    fds = f"/proc/{e.proc.pid}/fd"
    for fd in os.listdir(fds):
        try:
            if os.readlink(os.path.join(fds, fd)) != path:
                continue
            with open(f"/proc/{e.proc.pid}/fdinfo/{fd}") as f:
                return int(re.search(r"^pos:\s*(\d+)", f.read(), re.M).group(1))
        except FileNotFoundError:
            continue
    raise AssertionError(f"the exporter has no descriptor on {path}")


# More than the exporter reads of a file in one round (4 MiB): see test 7.
BACKLOG_ENTRIES = 24000


# 7
def test_rotation_while_stopped_with_state_file():
    """app.log is rotated while the exporter is stopped, and both files grow.
    Restarted with --start-at end, only its state makes it read app.log.1
    (found under its new name) from the committed offset and the new app.log
    from its start: its first 200 answer holds every entry, and until it has
    read both files up to their sizes at start, /metrics and /-/ready answer
    503.

    That window is held open, not raced: the exporter commits its state at
    the end of its first read round, which reads at most 4 MiB of a file, and
    that commit is held (HeldCommit) while app.log.1 holds 7 MB it has not
    read. The test asserts the exporter is there (a thread blocked in the
    FIFO's open(), its descriptor on app.log.1 short of the file's size)
    before asking, and still there after.

    The control run deletes the state file before the restart: the exporter
    then starts at the end of both files, answers 200 at once, and its
    figures are short of the truth."""
    N, K, M = 15, BACKLOG_ENTRIES, 4
    for delete_state in (False, True):
        with TempDir() as d, TempDir() as st:
            log = os.path.join(d, "app.log")
            state = os.path.join(st, "state.json")
            args = ["--start-at", "end", "--state.file", state, "--files.rescan-interval", "1s", d]
            with serve(*args) as e:
                wait_until(lambda: e.get("/-/ready")[0] == 200, what="ready")
                append(log, entries("a", N))
                wait_count(e, N)
                sigterm(e)
            committed = committed_counters(state)
            os.rename(log, log + ".1")
            append(log + ".1", entries("b", K))
            append(log, entries("c", M))
            if delete_state:
                os.unlink(state)
            hold = HeldCommit(state)
            with serve(*args) as e:
                try:
                    wait_until(lambda: hold.held(e), what="the exporter's first commit held")
                    position = read_position(e, log + ".1")
                    answers = [(path, e.get(path)[0]) for _ in range(3) for path in ("/-/ready", "/metrics")]
                    assert e.get("/-/healthy")[0] == 200
                    assert hold.held(e) and read_position(e, log + ".1") == position, "the exporter moved on"
                finally:
                    hold.release()
                first = first_answer(e)
                hold.close()
                if delete_state:
                    assert "state restored" not in e.stderr()
                    assert all(status == 200 for _, status in answers), answers
                    assert counts(first) == (0, 0), counts(first)
                    assert shortfalls(committed, first), "control, state deleted: first answer as committed"
                    e.proc.kill()  # its shutdown is not what is tested here, and takes 2 s
                    continue
                found = shortfalls(committed, first)
                assert not found, "first answer after the restart below the state:\n" + describe(found)
                # Held short of app.log.1's size, it answered 503 only.
                size = os.path.getsize(log + ".1")
                assert position < size, f"nothing left to read of app.log.1 when held ({position} of {size} bytes)"
                assert all(status == 503 for _, status in answers), f"answers while held, behind: {answers}"
                # The requests are counted with each line (the line count is published after them).
                assert requests_total(first) == N + K + M, \
                    f"first 200 answer: (requests, lines) = {counts(first)}, want {N + K + M} requests"
                assert "state restored" in e.stderr(), "no restore logged"
                wait_count(e, N + K + M)
                s = assert_idle_and_exact(e, N + K + M)
                assert value(s, "ailog_exporter_state_write_failures_total") == 1  # the held commit
                e.proc.kill()


# 8
def test_a_thousand_files():
    FILES = 1000
    with TempDir() as d:
        paths = [os.path.join(d, f"pod-{i:04d}.log") for i in range(FILES)]
        for i, p in enumerate(paths):
            append(p, entry(f"first-{i}"))
        with serve("--start-at", "beginning", "--files.rescan-interval", "1s", d) as e:
            wait_count(e, FILES, timeout=60)
            assert files_watched(e) == FILES
            for i, p in enumerate(paths):
                append(p, entry(f"second-{i}"))
            wait_count(e, 2 * FILES, timeout=60)
            s = assert_idle_and_exact(e, 2 * FILES)
            assert value(s, "ailog_exporter_files_watched") == FILES


# 9
def test_sighup_rescans():
    with TempDir() as d:
        # The subdirectories exist, empty, before start: nothing matches in
        # them, so nothing watches them, and with an hour between rescans only
        # SIGHUP finds a file created there. (Creating the directory after
        # start would be an event in d, which is watched, and could find it.)
        for sub in ("new", "other"):
            os.mkdir(os.path.join(d, sub))
        with serve("--files.rescan-interval", "1h", os.path.join(d, "*", "*.log")) as e:
            wait_until(lambda: e.get("/-/ready")[0] == 200, what="ready")
            append(os.path.join(d, "new", "a.log"), entries("a", 4))
            e.proc.send_signal(signal.SIGHUP)
            wait_count(e, 4, timeout=10)
            assert e.proc.poll() is None, "SIGHUP ended the exporter"
            # Its directory is watched from now on: no SIGHUP needed there.
            append(os.path.join(d, "new", "b.log"), entries("b", 2))
            wait_count(e, 6, timeout=10)
            # Another directory needs another SIGHUP.
            append(os.path.join(d, "other", "c.log"), entries("c", 3))
            e.proc.send_signal(signal.SIGHUP)
            wait_count(e, 9, timeout=10)
            assert files_watched(e) == 3
            assert e.stderr().count("SIGHUP received") == 2


# 10
def test_unusable_state_file_is_set_aside():
    bad_states = [b"\x00garbage{{{ not json",
                  b'{"format":"ailog_exporter-state","version":999}',
                  b""]
    for bad in bad_states:
        with TempDir() as d, TempDir() as st:
            log = os.path.join(d, "app.log")
            append(log, entries("old", 5))  # before start: --start-at end skips it
            state = os.path.join(st, "state.json")
            with open(state, "wb") as f:
                f.write(bad)
            with serve("--state.file", state, d) as e:
                wait_until(lambda: e.get("/-/ready")[0] == 200, what="ready")
                assert e.proc.poll() is None
                assert counts(e.samples()) == (0, 0), (bad, counts(e.samples()))
                aside = [p for p in os.listdir(st) if re.fullmatch(r"state\.json\.corrupt-\d+", p)]
                assert len(aside) == 1, (bad, os.listdir(st))
                with open(os.path.join(st, aside[0]), "rb") as f:
                    assert f.read() == bad  # kept for inspection
                append(log, entries("new", 2))
                wait_count(e, 2)
                sigterm(e)
            with open(state) as f:
                saved = json.load(f)
            assert saved["format"] == "ailog_exporter-state" and saved["version"] == 1, saved
            assert saved["counters"]["lines_read"] == 2, saved["counters"]
            files = {f["path"]: f for f in saved["files"]}
            assert files[log]["offset"] == 7 * ENTRY_BYTES, files


# 11
def test_sigterm_is_prompt_and_saves_the_exact_position():
    with TempDir() as d, TempDir() as st:
        log = os.path.join(d, "app.log")
        state = os.path.join(st, "state.json")
        append(log, entries("seed", 2))
        stop = threading.Event()

        def writer():
            # A busy service: entries, some written in two halves.
            with open(log, "ab", buffering=0) as h:
                i = 0
                while not stop.is_set():
                    line = entry(f"w-{i}").encode()
                    if i % 3 == 0:
                        h.write(line[:123])
                        time.sleep(0.002)  # spacing the halves of a line is the point here
                        h.write(line[123:])
                    else:
                        h.write(line)
                    i += 1
                    time.sleep(0.005)

        # One commit right after start, then only the one at shutdown.
        with serve("--start-at", "beginning", "--state.file", state, "--state.interval", "1h", d) as e:
            wait_count(e, 2)
            t = threading.Thread(target=writer)
            t.start()
            try:
                wait_until(lambda: value(e.samples(), "ailog_exporter_bytes_read_total") > 50 * ENTRY_BYTES,
                           what="the writer's entries being read")
                bytes_before = value(e.samples(), "ailog_exporter_bytes_read_total")
                took = sigterm(e)
            finally:
                stop.set()
                t.join()
        with open(state) as f:
            saved = json.load(f)
        with open(log, "rb") as f:
            content = f.read()
        offset = {f["path"]: f for f in saved["files"]}[log]["offset"]
        assert offset >= bytes_before, (offset, bytes_before)
        assert offset % ENTRY_BYTES == 0 and content[offset - 1:offset] == b"\n", offset  # whole lines only
        assert saved["counters"]["bytes_read"] == offset, (saved["counters"]["bytes_read"], offset)
        assert saved["counters"]["lines_read"] == offset // ENTRY_BYTES, saved["counters"]
        requests = sum(s["value"] for fam in saved["families"] if fam["name"] == "openai_api_requests_total"
                       for s in fam["series"])
        assert requests == offset // ENTRY_BYTES, (requests, offset // ENTRY_BYTES)
        print(f"     SIGTERM to exit: {took:.2f}s; saved offset {offset} of {len(content)} bytes written")

        # Restarted with --start-at end, it goes on from the saved offset: it
        # counts what the writer wrote after it, and what is appended while it
        # is stopped. The control run, with the state file deleted, counts
        # none of it.
        append(log, entries("down", 5))
        total = len(content) // ENTRY_BYTES + 5
        assert len(content) % ENTRY_BYTES == 0, len(content)
        committed = committed_counters(state)
        with serve("--start-at", "end", "--state.file", state, d) as e:
            first = first_answer(e)
            found = shortfalls(committed, first)
            assert not found, "first answer after the restart below the state:\n" + describe(found)
            assert requests_total(first) == total, f"first 200 answer: {requests_total(first)} requests, want {total}"
            wait_count(e, total)
            e.proc.kill()  # its shutdown is tested above
        os.unlink(state)
        with serve("--start-at", "end", "--state.file", state, d) as e:
            first = first_answer(e)
            assert counts(first) == (0, 0), f"control, state deleted: {counts(first)}"
            assert shortfalls(committed, first), "control, state deleted: first answer as committed"
            e.proc.kill()


def test_rotation_and_truncation_counts_continue_after_a_restore():
    """The rotation and truncation counters are restored with the others and
    counted on from there: never below what was committed."""
    with TempDir() as d, TempDir() as st:
        log = os.path.join(d, "app.log")
        state = os.path.join(st, "state.json")
        append(log, entries("a", 3))
        args = ("--start-at", "beginning", "--state.file", state, "--files.rescan-interval", "1s", d)
        with serve(*args) as e:
            wait_count(e, 3)
            os.rename(log, log + ".1")
            append(log, entries("b", 2))
            wait_count(e, 5)
            wait_until(lambda: value(e.samples(), "ailog_exporter_file_rotations_total") == 1, what="the rotation")
            with open(log, "r+b") as f:
                f.truncate(0)
            append(log, entries("c", 1))
            wait_until(lambda: value(e.samples(), "ailog_exporter_file_truncations_total") == 1,
                       what="the truncation")
            assert sigterm(e) is not None
        with open(state) as f:
            counters = json.load(f)["counters"]
        assert counters["rotations"] == 1 and counters["truncations"] == 1, counters
        with serve(*args) as e:
            wait_until(lambda: e.get("/-/ready")[0] == 200, what="ready")
            samples = e.samples()
            assert value(samples, "ailog_exporter_file_rotations_total") == 1, "restored counter below the committed one"
            assert value(samples, "ailog_exporter_file_truncations_total") == 1, "restored counter below the committed one"
            # And counted on from there.
            os.rename(log, log + ".2")
            append(log, entries("d", 1))
            wait_until(lambda: value(e.samples(), "ailog_exporter_file_rotations_total") == 2,
                       what="the second rotation counted on from the restored one")


if __name__ == "__main__":
    run_tests([test_rename_rotation_directory, test_rename_rotation_out_of_the_glob,
               test_copytruncate_with_copy_beside, test_copytruncate_right_after_a_write,
               test_copytruncate_noticed_after_the_file_grew_back, test_create_delete_cycles,
               test_file_created_after_start, test_file_created_in_empty_directory_is_found_without_rescan,
               test_deleted_while_open, test_rotation_while_stopped_with_state_file, test_a_thousand_files,
               test_sighup_rescans, test_unusable_state_file_is_set_aside,
               test_sigterm_is_prompt_and_saves_the_exact_position,
               test_rotation_and_truncation_counts_continue_after_a_restore])
