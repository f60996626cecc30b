"""kill -9 at random moments while a writer appends fast: after every crash
the exporter restarts from its state file, and in the end every figure equals
what the generator wrote (counts, token sums, every histogram bucket, failure
durations, skip reasons), while a scraper polling throughout never sees a
counter go down."""

import os
import random
import tempfile
import threading
import time
import urllib.request

from harness import (Exporter, compare, free_port, generate, parse_exposition, run_tests, series_of, value,
                     wait_until)

KILLS = int(os.environ.get("AILOG_CRASH_KILLS", "20"))


def is_monotonic(name):
    # process_* belong to one process and restart with it, by convention.
    if name.startswith("process_"):
        return False
    return name.endswith(("_total", "_bucket", "_count", "_sum"))


class Scraper(threading.Thread):
    """Polls whichever exporter is running; records any counter decrease."""

    def __init__(self):
        super().__init__(daemon=True)
        self.base = None
        self.done = threading.Event()
        self.last = {}
        self.decreases = []
        self.scrapes = 0

    def run(self):
        while not self.done.is_set():
            try:
                with urllib.request.urlopen(self.base + "/metrics", timeout=2) as r:
                    samples = parse_exposition(r.read().decode())
                self.scrapes += 1
                for key, v in samples.items():
                    if not is_monotonic(key[0]):
                        continue
                    before = self.last.get(key)
                    if before is not None and v < before:
                        self.decreases.append(f"{key[0]}{dict(key[1])}: {before} -> {v}")
                    self.last[key] = max(v, before if before is not None else v)
            except Exception:
                pass  # down, starting, or 503 while catching up: no sample, as for Prometheus
            time.sleep(0.001)


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



def crash_loop(flavour, wrapper, extra, lines, seed):
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
    args = ["--start-at", "beginning", "--correlation.max-age", "100000d", "--state.file", state,
            "--state.interval", "700ms", log_dir]

    rng = random.Random(seed)
    written = threading.Event()
    w = threading.Thread(target=writer, args=(path, data, random.Random(seed + 1), written, KILLS * 0.6),
                         daemon=True)
    # Every instance listens on the same port, so the scraper reaches each one
    # from its first instant, when a restored counter could show through.
    listen = f"127.0.0.1:{free_port()}"
    scraper = Scraper()
    scraper.base = f"http://{listen}"
    scraper.start()
    w.start()
    kills = 0
    instances = 0
    while kills < KILLS or not written.is_set():
        e = Exporter(args, listen=listen)
        instances += 1
        # The point is a random instant: mid-read, mid-commit, mid-scrape.
        time.sleep(rng.uniform(0.05, 1.2))
        e.proc.kill()
        e.proc.wait()
        kills += 1
    w.join()

    with Exporter(args, listen=listen) as final:
        samples = final.wait_for_lines(expected["lines"], timeout=60)
        problems = compare(samples, expected)
        assert not problems, f"after {kills} kills:\n" + "\n".join(problems[:40])
        # One more round of polling on the final instance.
        before = scraper.scrapes
        wait_until(lambda: scraper.scrapes >= before + 5, what="final scrapes")
    scraper.done.set()
    scraper.join()
    assert not scraper.decreases, "counters went down:\n" + "\n".join(scraper.decreases[:20])
    assert scraper.scrapes > KILLS, f"only {scraper.scrapes} scrapes succeeded"
    assert instances == kills >= KILLS


def crash_after_commit(args, reached):
    """Runs the exporter until reached(samples) holds and two more state
    commits have followed, then kills it with SIGKILL."""
    e = Exporter(args)
    try:
        wait_until(lambda: reached(e.samples()), what="the situation to crash in")
        writes = value(e.samples(), "ailog_exporter_state_writes_total")
        wait_until(lambda: value(e.samples(), "ailog_exporter_state_writes_total") >= writes + 2,
                   what="two state commits")
    finally:
        e.proc.kill()
        e.proc.wait()
        e.stop()


def skipped(samples):
    return {dict(k[1])["reason"]: v for k, v in samples.items()
            if k[0] == "ailog_exporter_lines_skipped_total" and v}


def crash_inside_a_line(first, rest, extra_args, lines_before, lines_after, skips_after, bytes_after=None):
    """Writes `first`, crashes the exporter once it has read it and committed,
    appends `rest`, and checks the restarted exporter's line and byte counts."""
    tmp = tempfile.mkdtemp(prefix="ailog-crash-")
    path = os.path.join(tmp, "app.log")
    with open(path, "wb") as f:
        f.write(first)
    args = ["--state.file", os.path.join(tmp, "state.json"), "--state.interval", "50ms"] + extra_args + [path]
    crash_after_commit(args, lambda s: value(s, "ailog_exporter_lines_read_total") == lines_before)
    with open(path, "ab") as f:
        f.write(rest)
    with Exporter(args) as e:
        e.wait_for_lines(lines_after)
        want_bytes = len(first) + len(rest) if bytes_after is None else bytes_after
        wait_until(lambda: value(e.samples(), "ailog_exporter_bytes_read_total") == want_bytes,
                   what=f"{want_bytes} bytes read")
        samples = e.samples()
        got = value(samples, "ailog_exporter_lines_read_total")
        assert got == lines_after, f"{got} lines read, want {lines_after}"
        assert skipped(samples) == skips_after, skipped(samples)
        assert not any(series_of(samples, "ailog_exporter_entries_total").values()), "an entry was counted"


def test_kill9_inside_an_over_long_line():
    # The over-long line is counted when it passes the limit; its tail, read
    # after the restart, is part of it and not a line of its own.
    crash_inside_a_line(b"noise one\n" + b"x" * 3000, b"y" * 500 + b"\nnoise two\n",
                        ["--start-at", "beginning", "--max-line-bytes", "1000"],
                        2, 3, {"not_json": 2, "too_long": 1})


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
    crash_inside_a_line(first, rest, ["--start-at", "beginning", "--max-line-bytes", "1000",
                                      "--input.wrapper", "cri"],
                        3, n + 1, {"too_long": 1, "not_json": 1})


def test_kill9_after_starting_at_the_end_inside_a_line():
    # --start-at end on a file whose last line is incomplete: that line is
    # not this exporter's to count, before or after a crash.
    crash_inside_a_line(b"old one\nold partial", b" line\nnew one\n", ["--start-at", "end"],
                        0, 1, {"not_json": 1}, bytes_after=len(b" line\nnew one\n"))


def test_kill9_plain_lines():
    crash_loop("mixed", "none", [], 40000, 7)


def test_kill9_cri_with_split_records():
    # Partial (P) records pending at a crash are in the state file too.
    crash_loop("pino", "cri", ["--long-entries", "0.05"], 6000, 11)


if __name__ == "__main__":
    run_tests([test_kill9_inside_an_over_long_line, test_kill9_inside_an_over_long_cri_entry,
               test_kill9_after_starting_at_the_end_inside_a_line, test_kill9_plain_lines,
               test_kill9_cri_with_split_records])
