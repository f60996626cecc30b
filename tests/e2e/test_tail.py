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

from harness import Exporter, parse_exposition, run_tests, value, wait_until

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


def assert_idle_and_exact(e, n, seconds=1.5):
    """Counts stay exactly n for a while (long enough for a 1 s periodic
    rescan, where late rotation or truncation checks run), nothing is left
    half-read, and the bytes are those of n whole entries."""
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


def samples_or_none(e):
    """A scrape, or None while /metrics answers 503 (restored state catching up)."""
    status, _, body = e.get("/metrics")
    if status == 503:
        return None
    assert status == 200, status
    return parse_exposition(body.decode())


# 7
def test_rotation_while_stopped_with_state_file():
    N, K, M = 15, 6, 4
    with TempDir() as d, TempDir() as st:
        log = os.path.join(d, "app.log")
        state = os.path.join(st, "state.json")
        append(log, entries("a", N))
        args = ["--start-at", "beginning", "--state.file", state, d]
        with serve(*args) as e:
            wait_count(e, N)
            sigterm(e)
        os.rename(log, log + ".1")
        append(log + ".1", entries("b", K))
        append(log, entries("c", M))
        with serve(*args) as e:
            seen = []

            def done():
                s = samples_or_none(e)
                if s is None:
                    return False
                seen.append(counts(s))
                return seen[-1] == (N + K + M, N + K + M)

            wait_until(done, what=f"{N + K + M} entries after the restart")
            for _ in range(5):  # a few more scrapes
                s = samples_or_none(e)
                assert s is not None, "503 after being ready"
                seen.append(counts(s))
            assert all(r >= N and l >= N for r, l in seen), seen
            # /metrics waits until every file is read up to its size at start.
            assert seen[0][0] == N + K + M, seen
            assert_idle_and_exact(e, N + K + M, seconds=0.5)


# 8
def test_a_thousand_files():
    FILES = 1000
    with TempDir() as d:
        paths = [os.path.join(d, f"pod-{i:04d}.log") for i in range(FILES)]
        for i, p in enumerate(paths):
            append(p, entry(f"first-{i}"))
        with serve("--start-at", "beginning", d) as e:
            wait_count(e, FILES, timeout=60)
            assert files_watched(e) == FILES
            for i, p in enumerate(paths):
                append(p, entry(f"second-{i}"))
            wait_count(e, 2 * FILES, timeout=60)
            s = assert_idle_and_exact(e, 2 * FILES, seconds=0.5)
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


if __name__ == "__main__":
    run_tests([test_rename_rotation_directory, test_rename_rotation_out_of_the_glob,
               test_copytruncate_with_copy_beside, test_copytruncate_right_after_a_write,
               test_copytruncate_noticed_after_the_file_grew_back, test_create_delete_cycles,
               test_file_created_after_start, test_file_created_in_empty_directory_is_found_without_rescan,
               test_deleted_while_open, test_rotation_while_stopped_with_state_file, test_a_thousand_files,
               test_sighup_rescans, test_unusable_state_file_is_set_aside,
               test_sigterm_is_prompt_and_saves_the_exact_position])
