"""kill -9 at random moments while a writer appends fast: after every crash
the exporter restarts from its state file, and in the end every figure equals
what the generator wrote (counts, token sums, every histogram bucket, failure
durations, skip reasons), while a scraper polling throughout never sees a
counter go down.

Every restart here is with --start-at end, so what a restarted exporter reads
of the bytes already in the file, and every count it starts from, come from
the state file alone: without it, they would be lost. Each restart's first
answer is checked against the state it restored (read from the file after the
kill), and each test has a control run that deletes the state file before
every restart and must come out short of the truth, which shows that the
checks see the restore."""

import http.client
import os
import random
import signal
import tempfile
import threading
import time
import urllib.error
import urllib.request

from harness import (Exporter, committed_counters, compare, describe, first_answer, free_port, generate,
                     parse_exposition, run_tests, series_of, shortfalls, show_series, value, wait_until)

KILLS = int(os.environ.get("AILOG_CRASH_KILLS", "20"))
CONTROL_KILLS = 3

def is_monotonic(name):
    # process_* belong to one process and restart with it, by convention.
    if name.startswith("process_"):
        return False
    return name.endswith(("_total", "_bucket", "_count", "_sum"))


def fetch(url):
    """(status, body) of a GET, or (None, the exception) when no answer came."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        try:
            return e.code, e.read()
        except (http.client.HTTPException, OSError) as x:
            return None, x
    except (urllib.error.URLError, http.client.HTTPException, OSError) as x:
        return None, x


class Scraper(threading.Thread):
    """Polls /metrics on the port every instance listens on, throughout the
    run, and accepts only what a restart explains: no answer while an
    instance is starting or being killed (refused, reset, cut short), 503
    while a restored instance catches up. Anything else is an error: no
    answer from an instance up all along, a status other than 200 and 503,
    503 from an instance that has answered 200, an unparsable exposition.
    Every 200 answer is compared with the ones before: a counter below an
    earlier value, or gone, is a decrease. The first 200 answer of each
    instance is kept, to check against the state it restored.

    The test tells it what it does: starting(n) before instance n is
    spawned, started() once it listens, killing() before SIGKILL. An answer
    is instance n's when the instance was n when the request was sent and
    still when the answer came (instance n - 1 was reaped before n was
    spawned)."""

    def __init__(self, base):
        super().__init__(daemon=True)
        self.base = base
        self.lock = threading.Lock()
        self.instance = 0
        self.up = False
        self.changes = 0
        self.done = threading.Event()
        self.last = {}
        self.first = {}
        self.errors = []
        self.decreases = []
        self.decrease_count = 0
        self.scrapes = 0
        self.unavailable = 0

    def starting(self, instance):
        with self.lock:
            self.instance, self.up, self.changes = instance, False, self.changes + 1

    def started(self):
        with self.lock:
            self.up, self.changes = True, self.changes + 1

    def killing(self):
        with self.lock:
            self.up, self.changes = False, self.changes + 1

    def _now(self):
        with self.lock:
            return self.instance, self.up, self.changes

    def run(self):
        while not self.done.is_set():
            try:
                self.poll()
            except Exception as x:  # a bug of this test: fail, do not hide it
                self.errors.append(f"scraper: {x!r}")
                return
            time.sleep(0.001)

    def poll(self):
        instance, up, changes = self._now()
        status, body = fetch(self.base + "/metrics")
        instance_after, _, changes_after = self._now()
        steady = up and changes_after == changes  # one instance up all along
        own = instance_after == instance  # the answer is this instance's
        if status is None:
            if steady:
                self.errors.append(f"instance {instance} is up and gave no answer: {body!r}")
            return
        if status == 503:
            if own and instance in self.first:
                self.errors.append(f"instance {instance}: 503 after answering 200")
            self.unavailable += 1
            return
        if status != 200:
            self.errors.append(f"instance {instance}: HTTP {status}: {body[:300]!r}")
            return
        try:
            samples = parse_exposition(body.decode())
        except (AssertionError, UnicodeDecodeError) as x:
            self.errors.append(f"instance {instance}: unparsable exposition: {x}")
            return
        self.scrapes += 1
        for key, before in self.last.items():
            now = samples.get(key)
            if now is None or now < before:
                self.decrease_count += 1
                if len(self.decreases) < 100:
                    self.decreases.append(f"instance {instance}: {show_series(*key)}: {before} -> {now}")
        for key, v in samples.items():
            if is_monotonic(key[0]):
                self.last[key] = max(v, self.last.get(key, v))
        if own and instance not in self.first:
            self.first[instance] = samples


def writer(path, data, rng, done, seconds):
    """Appends `data` in chunks of random size, cutting lines anywhere, spread
    over about `seconds`."""
    chunk = 16 * 1024
    pause = seconds / (len(data) / chunk)
    with open(path, "ab", buffering=0) as f:
        i = 0
        while i < len(data):
            n = rng.randint(1, 2 * chunk)
            f.write(data[i:i + n])
            i += n
            time.sleep(rng.uniform(0, 2 * pause))
    done.set()


def crash_loop(flavour, wrapper, extra, lines, seed, kills_wanted, delete_state=False):
    """Writes a generated corpus into app.log while instances of the exporter
    are started and killed with SIGKILL at random instants, each restored
    from the state its predecessor committed; then a final instance.

    With the state kept, the final figures are exact, every restart's first
    answer holds at least the counters of the state it restored and every
    byte the file held before it was spawned, and the scraper saw no error
    and no decrease. With delete_state (the control run), the state file is
    deleted before every restart, and the run must come out short: final
    figures below the truth, restarts below what was committed, decreases."""
    tmp = tempfile.mkdtemp(prefix="ailog-crash-")
    corpus = os.path.join(tmp, "corpus.log")
    expected = generate(corpus, corpus + ".json", "--flavour", flavour, "--wrapper", wrapper, "--seed", seed,
                        "--lines", lines, "--hostile", *extra)
    with open(corpus, "rb") as f:
        data = f.read()
    log_dir = os.path.join(tmp, "logs")
    os.mkdir(log_dir)
    path = os.path.join(log_dir, "app.log")
    open(path, "wb").close()
    state = os.path.join(tmp, "state.json")
    args = ["--start-at", "end", "--correlation.max-age", "100000d", "--state.file", state,
            "--state.interval", "700ms", log_dir]

    rng = random.Random(seed)
    written = threading.Event()
    w = threading.Thread(target=writer, args=(path, data, random.Random(seed + 1), written, kills_wanted * 0.6),
                         daemon=True)
    # Every instance listens on the same port, so the scraper reaches each one
    # from its first instant, when a restored counter could show through.
    listen = f"127.0.0.1:{free_port()}"
    scraper = Scraper(f"http://{listen}")
    scraper.start()
    committed = {}  # instance -> the counters of the state it started from
    size_before = {}  # instance -> the size of app.log just before it was spawned
    restored = {}  # instance -> whether it logged a restore
    count = [0]

    def start():
        count[0] += 1
        size_before[count[0]] = os.path.getsize(path)
        scraper.starting(count[0])
        e = Exporter(args, listen=listen)
        scraper.started()
        restored[count[0]] = "state restored" in e.stderr()
        return e

    def kill(e):
        scraper.killing()
        e.proc.kill()
        e.proc.wait()
        e.__exit__(None, None, None)
        if os.path.exists(state):
            committed[count[0] + 1] = committed_counters(state)
            if delete_state:
                os.unlink(state)

    # The first instance finds app.log empty; the writer starts once its state
    # is on disk, so that every later instance has a state to start from.
    e = start()
    wait_until(lambda: os.path.exists(state), what="the first commit")
    w.start()
    kills = 0
    while True:
        # The point is a random instant: mid-read, mid-commit, mid-scrape.
        time.sleep(rng.uniform(0.05, 1.2))
        kill(e)
        kills += 1
        if kills >= kills_wanted and written.is_set():
            break
        e = start()
    w.join()

    with start() as final:
        kill_at_exit(final)
        # The writer is done: once caught up, the final instance has read
        # everything, and its counts follow at the end of its read round.
        first_answer(final, timeout=60)
        try:
            wait_until(lambda: value(final.samples(), "ailog_exporter_lines_read_total") == expected["lines"],
                       timeout=0.5 if delete_state else 5)
        except AssertionError:
            pass  # said below
        samples = final.samples()
        problems = compare(samples, expected)
        # One more round of polling on the final instance.
        before = scraper.scrapes
        wait_until(lambda: scraper.scrapes >= before + 5, what="final scrapes")
        scraper.done.set()
        scraper.join()

    assert not scraper.errors, "scraper:\n" + describe(scraper.errors, 20)
    assert scraper.scrapes > kills, f"only {scraper.scrapes} scrapes succeeded"
    short = {}  # restarts whose first answer is below what they should hold
    for n in range(2, count[0] + 1):
        if n not in scraper.first:
            continue  # killed before it answered
        first = scraper.first[n]
        whole_lines = data[:size_before[n]].rfind(b"\n") + 1
        got = value(first, "ailog_exporter_bytes_read_total")
        found = shortfalls(committed.get(n, {}), first)
        if got < whole_lines:
            found.append(f"bytes_read_total = {got}, but the file held {whole_lines} bytes of whole lines "
                         "before it was spawned")
        if found:
            short[n] = found
    checked = sum(1 for n in range(2, count[0] + 1) if n in scraper.first)
    lines_read = value(samples, "ailog_exporter_lines_read_total")
    summary = (f"{flavour}/{wrapper}: {kills} kills, {checked} restarts checked against their state, "
               f"{scraper.scrapes} scrapes, {scraper.unavailable} answered 503")
    if not delete_state:
        assert not short, "restarts below their state:\n" + "\n".join(
            f"instance {n}: " + "; ".join(v[:5]) for n, v in list(short.items())[:10])
        assert not scraper.decrease_count, f"counters went down {scraper.decrease_count} times:\n" + \
            describe(scraper.decreases, 20)
        assert not problems, f"after {kills} kills:\n" + describe(problems, 40)
        assert all(restored[n] for n in range(2, count[0] + 1)), restored
        assert checked >= kills // 2, f"only {checked} of {kills} restarts answered before being killed"
        print(f"     {summary}", flush=True)
    else:
        # The control: the same run without the restores must fail those checks.
        assert not any(restored.values()), restored
        assert lines_read < expected["lines"], (lines_read, expected["lines"])
        assert problems, "exact without the state file"
        assert short, "no restart came out below its state without the state file"
        assert scraper.decrease_count, "no counter went down without the state file"
        print(f"     control, state deleted before each restart: {summary}; {lines_read:.0f} of "
              f"{expected['lines']} lines counted, {len(short)} restarts below their state, "
              f"{scraper.decrease_count} decreases seen", flush=True)


def crash_after_commit(args, state, lines):
    """Runs the exporter until its state file holds `lines` lines read, then
    kills it with SIGKILL; returns the committed counters."""
    e = Exporter(args)
    try:
        def holds():
            counters = committed_counters(state)
            return counters if counters[("ailog_exporter_lines_read_total", frozenset())] == lines else None
        return wait_until(holds, what=f"a commit of {lines} lines")
    finally:
        e.proc.kill()
        e.proc.wait()
        e.stop()


def skipped(samples):
    return {dict(k[1])["reason"]: v for k, v in samples.items()
            if k[0] == "ailog_exporter_lines_skipped_total" and v}


def kill_at_exit(e):
    """SIGKILL instead of SIGTERM when e exits: its shutdown (2 s) is not
    what the test is about."""
    stop = e.stop
    e.stop = lambda sig=None: stop(signal.SIGKILL if sig is None else sig)


def lines_and_bytes(samples):
    return (value(samples, "ailog_exporter_lines_read_total"), value(samples, "ailog_exporter_bytes_read_total"))


def crash_inside_a_line(first, rest, start_at, extra_args, lines_before, lines_after, skips_after,
                        bytes_after=None):
    """Writes `first`, crashes the exporter (started with --start-at
    `start_at`) once it has committed `lines_before` lines, appends `rest`, and
    restarts it with --start-at end: only the offset it restores (inside a
    line) makes it read `rest`. Its first answer holds at least what was
    committed; its line and byte counts and skip reasons end up exact.

    Then the control run: the same with the state file deleted before the
    restart, which must end up short of lines and bytes."""
    want = (lines_after, len(first) + len(rest) if bytes_after is None else bytes_after)
    for delete_state in (False, True):
        tmp = tempfile.mkdtemp(prefix="ailog-crash-")
        path = os.path.join(tmp, "app.log")
        with open(path, "wb") as f:
            f.write(first)
        state = os.path.join(tmp, "state.json")
        common = ["--state.file", state, "--state.interval", "50ms"] + extra_args
        committed = crash_after_commit(["--start-at", start_at] + common + [path], state, lines_before)
        with open(path, "ab") as f:
            f.write(rest)
        if delete_state:
            os.unlink(state)
        with Exporter(["--start-at", "end"] + common + [path]) as e:
            kill_at_exit(e)
            answer = first_answer(e)
            found = shortfalls(committed, answer)
            # Everything is in the file already: once caught up, the counts
            # are final, after their publication at the end of the round.
            try:
                wait_until(lambda: lines_and_bytes(e.samples()) == want, timeout=0.5 if delete_state else 3)
            except AssertionError:
                pass  # said below
            samples = e.samples()
            got = lines_and_bytes(samples)
            if delete_state:
                assert got[0] < want[0] and got[1] < want[1], \
                    f"control, state deleted: (lines, bytes) read = {got}, as with the state"
                assert found or not lines_before, "control, state deleted: first answer as committed"
                continue
            assert not found, "first answer after the restart below the state:\n" + describe(found)
            assert got == want, f"(lines, bytes) read = {got}, want {want}"
            assert skipped(samples) == skips_after, skipped(samples)
            assert not any(series_of(samples, "ailog_exporter_entries_total", required=True).values()), \
                "an entry was counted"
            assert "state restored" in e.stderr(), "no restore logged"


def test_kill9_inside_an_over_long_line():
    # The over-long line is counted when it passes the limit; its tail, read
    # after the restart, is part of it and not a line of its own.
    crash_inside_a_line(b"noise one\n" + b"x" * 3000, b"y" * 500 + b"\nnoise two\n", "beginning",
                        ["--max-line-bytes", "1000"], 2, 3, {"not_json": 2, "too_long": 1})


def test_kill9_inside_an_over_long_cri_entry():
    # An entry split into partial records grows over the limit before the
    # crash; the records after the restart finish it and nothing else.
    def record(tag, text):
        return b"2026-11-23T10:00:00.000000000Z stdout " + tag + b" " + text + b"\n"
    entry = ('{"level":"info","message":"executeParse - start","timestamp":"2026-11-23T10:00:00.000Z",'
             '"requestId":"r1","capability":"parse","operation":"op","pad":"' + "p" * 1500 + '"}').encode()
    pieces = [entry[i:i + 400] for i in range(0, len(entry), 400)]
    first = b"".join(record(b"P", p) for p in pieces[:3])
    rest = b"".join(record(b"P", p) for p in pieces[3:-1]) + record(b"F", pieces[-1]) + record(b"F", b"noise")
    n = len(pieces)
    crash_inside_a_line(first, rest, "beginning", ["--max-line-bytes", "1000", "--input.wrapper", "cri"],
                        3, n + 1, {"too_long": 1, "not_json": 1})


def test_kill9_after_starting_at_the_end_inside_a_line():
    # --start-at end on a file whose last line is incomplete: that line is
    # not this exporter's to count, before or after a crash.
    crash_inside_a_line(b"old one\nold partial", b" line\nnew one\n", "end", [],
                        0, 1, {"not_json": 1}, bytes_after=len(b" line\nnew one\n"))


def test_kill9_plain_lines():
    crash_loop("mixed", "none", [], 40000, 7, KILLS)
    crash_loop("mixed", "none", [], 4000, 8, CONTROL_KILLS, delete_state=True)


def test_kill9_cri_with_split_records():
    # Partial (P) records pending at a crash are in the state file too.
    crash_loop("pino", "cri", ["--long-entries", "0.05"], 6000, 11, KILLS)
    crash_loop("pino", "cri", ["--long-entries", "0.05"], 1000, 12, CONTROL_KILLS, delete_state=True)


if __name__ == "__main__":
    run_tests([test_kill9_inside_an_over_long_line, test_kill9_inside_an_over_long_cri_entry,
               test_kill9_after_starting_at_the_end_inside_a_line, test_kill9_plain_lines,
               test_kill9_cri_with_split_records])