"""Which paths are read, and how: the default command, symlinked log files,
compressed files beside a followed log, a short new file, subdirectories
with and without --files.recursive, and --exit-on-eof with a state file.

Every entry is an executeParse start line; counts are checked through
ailog_exporter_lines_read_total, ailog_exporter_entries_total{kind="start"}
and ailog_exporter_files_watched, exactly."""

import bz2
import gzip
import json
import lzma
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from harness import Exporter, binary, parse_exposition, run_tests, value, wait_until


def start_line(rid, length=None):
    """An executeParse start entry, newline included; its requestId padded
    with "x" to make it exactly `length` bytes when given."""
    line = ('{"level":"info","message":"executeParse - start","requestId":"%s","capability":"parse-task",'
            '"operation":"core","timestamp":"2025-06-01T12:00:00.029Z"}\n')
    if length is None:
        return line % rid
    pad = length - len(line % rid)
    assert pad >= 0, (rid, length)
    line = line % (rid + "x" * pad)
    assert len(line) == length, len(line)
    return line


def start_lines(tag, n):
    return "".join(start_line(f"{tag}-{i}") for i in range(n))


def append(path, text):
    with open(path, "ab") as f:
        f.write(text.encode())


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="ailog-paths-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def serve(*args):
    # Log timestamps are from 2025: never evict start entries by wall-clock age.
    return Exporter(["--correlation.max-age", "100000d"] + list(args))


def counts(samples):
    """(lines read, start entries, files watched)."""
    return (value(samples, "ailog_exporter_lines_read_total"),
            value(samples, "ailog_exporter_entries_total", kind="start"),
            value(samples, "ailog_exporter_files_watched"))


def wait_count(scrape, n, files=None, timeout=15.0):
    """Waits until n lines are read, then checks that exactly n lines and n
    start entries are counted (and `files` inputs watched, when given)."""
    last = [None]

    def reached():
        last[0] = counts(scrape())
        return last[0][0] >= n and last[0][1] >= n and (files is None or last[0][2] == files)

    try:
        wait_until(reached, timeout=timeout, what=f"{n} lines counted")
    except AssertionError as x:
        raise AssertionError(f"{x}; last seen (lines, starts, files) = {last[0]}") from None
    got = counts(scrape())
    want = (n, n, files if files is not None else got[2])
    assert got == want, f"(lines, starts, files) = {got}, want {want}"
    return got


def assert_stays(scrape, n, files, seconds):
    """Counts stay exactly (n, n, files) for `seconds` (long enough for the
    periodic rescans given to the exporter to run)."""
    deadline = time.monotonic() + seconds
    while True:
        got = counts(scrape())
        assert got == (n, n, files), f"(lines, starts, files) = {got}, want {(n, n, files)}"
        if time.monotonic() >= deadline:
            return
        time.sleep(0.1)


def sigterm(proc, within=5.0):
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=within)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"still running {within}s after SIGTERM") from None
    return rc


# `serve` is the default command: `ailog_exporter [options] PATH`.
def test_default_command_serves():
    with TempDir() as d:
        log = os.path.join(d, "app.log")
        append(log, start_lines("before", 3))  # --start-at end: not counted
        err_path = os.path.join(d, "stderr.log")
        with open(err_path, "wb") as err:
            proc = subprocess.Popen([binary(), "--web.listen-address", "127.0.0.1:0",
                                     "--correlation.max-age", "100000d", log],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        try:
            def stderr():
                with open(err_path, "rb") as f:
                    return f.read().decode("utf-8", "replace")

            def address():
                if proc.poll() is not None:
                    raise AssertionError(f"exited with {proc.returncode}: {stderr()}")
                m = re.search(r"listening address=(127\.0\.0\.1:[0-9]+)", stderr())
                return m.group(1) if m else None

            base = "http://" + wait_until(address, timeout=10, what="the listening address in the log")

            def get(path):
                import urllib.error
                import urllib.request
                try:
                    with urllib.request.urlopen(base + path, timeout=10) as r:
                        return r.status, r.read().decode()
                except urllib.error.HTTPError as e:
                    return e.code, e.read().decode()

            def scrape():
                status, body = get("/metrics")
                assert status == 200, status
                return parse_exposition(body)

            wait_until(lambda: get("/-/ready")[0] == 200, timeout=10, what="ready")
            assert counts(scrape()) == (0, 0, 1), counts(scrape())
            append(log, start_line("after"))
            wait_count(scrape, 1, files=1)
            rc = sigterm(proc)
            assert rc == 0, f"exit status {rc}: {stderr()[-2000:]}"
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


# Symlinked paths are followed, as under /var/log/containers: a directory of
# links (absolute, relative, and a link to a link) to files elsewhere.
def test_symlinked_files_are_followed():
    with TempDir() as d:
        pods = os.path.join(d, "pods")
        containers = os.path.join(d, "containers")
        targets = []
        for pod in ("p1", "p2", "p3"):
            os.makedirs(os.path.join(pods, pod, "app"))
            t = os.path.join(pods, pod, "app", "0.log")
            append(t, start_lines(f"{pod}-before", 2))
            targets.append(t)
        os.mkdir(containers)
        os.symlink(targets[0], os.path.join(containers, "p1_app.log"))
        os.symlink(os.path.relpath(targets[1], containers), os.path.join(containers, "p2_app.log"))
        hop = os.path.join(pods, "p3", "current.log")
        os.symlink(targets[2], hop)
        os.symlink(hop, os.path.join(containers, "p3_app.log"))

        for k, path in enumerate((containers, os.path.join(containers, "*.log"))):
            with serve("--start-at", "end", path) as e:
                wait_until(lambda: e.get("/-/ready")[0] == 200, timeout=10, what="ready")
                wait_count(e.samples, 0, files=3)
                total = 0
                for i, t in enumerate(targets):
                    append(t, start_lines(f"run{k}-{i}", i + 2))
                    total += i + 2
                    try:
                        wait_count(e.samples, total, files=3)
                    except AssertionError as x:
                        raise AssertionError(f"PATH {path}, after appending to {t}: {x}") from None


# Compressed files (.gz, .xz, ...) in a watched directory are never tailed,
# neither those present at start nor those created later.
def test_compressed_files_are_never_tailed():
    N = 4
    with TempDir() as d:
        log = os.path.join(d, "app.log")
        append(log, start_lines("plain", N))
        rotated = start_lines("rotated", 20).encode()
        with open(log + ".1.gz", "wb") as f:
            f.write(gzip.compress(rotated))
        with open(log + ".2.xz", "wb") as f:
            f.write(lzma.compress(rotated))
        with open(log + ".3.bz2", "wb") as f:
            f.write(bz2.compress(rotated))
        with serve("--start-at", "beginning", "--files.rescan-interval", "1s", d) as e:
            wait_count(e.samples, N, files=1)
            # logrotate compressing a rotated file after start: still nothing.
            with open(log + ".4.gz", "wb") as f:
                f.write(gzip.compress(rotated + start_lines("more", 5).encode()))
            append(log, start_lines("plain-after", 2))
            wait_count(e.samples, N + 2, files=1)
            assert_stays(e.samples, N + 2, 1, seconds=2.5)


# A new file shorter than the 256-byte fingerprint in a watched directory is
# noticed at once (inotify, not the rescan) and read after at most 1 s more.
def test_short_new_file_is_read_within_a_second():
    with TempDir() as d:
        with serve("--files.rescan-interval", "1h", d) as e:
            wait_until(lambda: e.get("/-/ready")[0] == 200, timeout=10, what="ready")
            wait_count(e.samples, 0, files=0)
            line = start_line("s", length=150).encode()
            t0 = time.monotonic()
            with open(os.path.join(d, "new.log"), "wb") as f:
                f.write(line)
            wait_count(e.samples, 1, files=1, timeout=5)
            took = time.monotonic() - t0
            print(f"     150-byte new file counted after {took:.2f}s")
            assert value(e.samples(), "ailog_exporter_bytes_read_total") == 150


# Directories: their regular files; subdirectories only with --files.recursive.
def test_subdirectories_only_with_recursive():
    TOP, NESTED = 2, 3
    with TempDir() as d:
        top = os.path.join(d, "top.log")
        nested = os.path.join(d, "sub", "deeper", "nested.log")
        os.makedirs(os.path.dirname(nested))
        append(top, start_lines("top", TOP))
        append(nested, start_lines("nested", NESTED))

        with serve("--start-at", "beginning", "--files.rescan-interval", "1s", d) as e:
            wait_count(e.samples, TOP, files=1)
            append(nested, start_lines("nested-after", 1))
            append(top, start_lines("top-after", 1))
            wait_count(e.samples, TOP + 1, files=1)
            assert_stays(e.samples, TOP + 1, 1, seconds=1.5)

        with serve("--start-at", "beginning", "--files.recursive", "--files.rescan-interval", "1s", d) as e:
            total = TOP + 1 + NESTED + 1
            wait_count(e.samples, total, files=2)
            append(nested, start_lines("nested-later", 2))
            wait_count(e.samples, total + 2, files=2)


# --exit-on-eof: every input read to its end once, exit 0, and the state file
# holds each file's offset at its size and the counters of what was read.
def test_exit_on_eof_commits_the_state():
    with TempDir() as d, TempDir() as st:
        logs = {os.path.join(d, "a.log"): 7, os.path.join(d, "b.log"): 3, os.path.join(d, "c.log"): 1}
        for path, n in logs.items():
            append(path, start_lines(os.path.basename(path), n))
        total_lines = sum(logs.values())
        total_bytes = sum(os.path.getsize(p) for p in logs)
        state = os.path.join(st, "state.json")
        r = subprocess.run([binary(), "serve", "--web.listen-address", "127.0.0.1:0", "--exit-on-eof",
                            "--start-at", "beginning", "--correlation.max-age", "100000d",
                            "--state.file", state, d],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        assert r.returncode == 0, (r.returncode, r.stderr.decode()[-2000:])
        with open(state) as f:
            saved = json.load(f)
        assert saved["format"] == "ailog_exporter-state", saved.get("format")
        offsets = {f["path"]: f["offset"] for f in saved["files"]}
        assert offsets == {p: os.path.getsize(p) for p in logs}, (offsets, {p: os.path.getsize(p) for p in logs})
        c = saved["counters"]
        got = (c.get("lines_read"), c.get("bytes_read"), c.get("entries/start"))
        assert got == (total_lines, total_bytes, total_lines), (got, (total_lines, total_bytes, total_lines))


if __name__ == "__main__":
    run_tests([test_default_command_serves, test_symlinked_files_are_followed,
               test_compressed_files_are_never_tailed, test_short_new_file_is_read_within_a_second,
               test_subdirectories_only_with_recursive, test_exit_on_eof_commits_the_state])
