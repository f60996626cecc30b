"""Log clocks that are not the exporter's clock: a log hours behind or ahead
of the wall clock, or written in zone-less local time of another zone,
tailed with idle moments between the start and the end of the same call
(the default --correlation.max-age applies); two inputs with the same
requestIds and different clocks; absurd timestamps among good lines (replay
stays bounded, promtool accepts its output, serve and replay count them);
daylight-saving changes read with --input.timezone; the gaps of replay's
OpenMetrics output; an unknown zone is refused at start."""

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone

from harness import (GENERATOR, Exporter, add_metrics, binary, compare, parse_exposition, run_tests, series_of,
                     value, wait_until)

HOUR_MS = 3600 * 1000
BATCHES = 6          # appended one after the other, the exporter idle in between
IDLE_S = 1.5         # longer than the exporter's 1 s idle wake-up
NY = "America/New_York"
KOLKATA = "Asia/Kolkata"
# Series serve and replay must agree on (besides openai_*).
SHARED_SELF = ("ailog_exporter_lines_read_total", "ailog_exporter_bytes_read_total",
               "ailog_exporter_lines_skipped_total", "ailog_exporter_entries_total",
               "ailog_exporter_unmatched_entries_total", "ailog_exporter_correlation_evicted_total",
               "ailog_exporter_negative_durations_total")


def iso_utc(ms):
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now_ms():
    return int(time.time() * 1000)


def generate(out, *args, env=None):
    """The generator with an optional environment (TZ); returns its expected figures."""
    expected = out + ".json"
    full_env = dict(os.environ, **(env or {}))
    subprocess.run([sys.executable, GENERATOR, "--out", out, "--expected", expected] + [str(a) for a in args],
                   check=True, env=full_env, stderr=subprocess.DEVNULL)
    with open(expected) as f:
        return json.load(f)


def replay(*args, env=None, timeout=120, check=True):
    full_env = dict(os.environ, **(env or {}))
    r = subprocess.run([binary(), "replay"] + [str(a) for a in args], capture_output=True, timeout=timeout,
                       env=full_env)
    if check:
        assert r.returncode == 0, f"replay {' '.join(map(str, args))}: exit {r.returncode}: {r.stderr.decode()[-2000:]}"
    return r


class EnvExporter(Exporter):
    """harness.Exporter with its own environment (TZ)."""

    def __init__(self, args, env):
        self.tmp = tempfile.mkdtemp(prefix="ailog-clock-")
        self.stderr_path = os.path.join(self.tmp, "stderr.log")
        self._stderr = open(self.stderr_path, "wb")
        cmd = [binary(), "serve", "--web.listen-address", "127.0.0.1:0"] + [str(a) for a in args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr,
                                     env=dict(os.environ, **env))
        self.address = wait_until(self._find_address, what="the listening address in the log")
        self.base = f"http://{self.address}"


def read_lines(path):
    with open(path, "rb") as f:
        return f.read().splitlines(keepends=True)


def entry_of(line):
    """(kind, requestId) of an executeParse line, else None."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    msg = obj.get("message", obj.get("msg"))
    if not isinstance(msg, str) or not msg.startswith("executeParse - "):
        return None
    return msg.split(" ")[2], obj.get("requestId")


def batches_of(lines, n):
    size = math.ceil(len(lines) / n)
    return [lines[i:i + size] for i in range(0, len(lines), size)]


def straddling(batches):
    """For each boundary between two batches, the calls started before it and
    ended after it."""
    started = {}
    out = [0] * (len(batches) - 1)
    for b, batch in enumerate(batches):
        for line in batch:
            e = entry_of(line)
            if e is None:
                continue
            kind, rid = e
            if kind == "start":
                started[rid] = b
            elif rid in started:
                for boundary in range(started.pop(rid), b):
                    out[boundary] += 1
    return out


def lines_read(e):
    return value(e.samples(), "ailog_exporter_lines_read_total")


def write_paced(e, plan):
    """plan: list of batches, each a list of (path, lines). Each batch is
    appended, read by the exporter, then left idle for IDLE_S."""
    written = 0
    for batch in plan:
        for path, lines in batch:
            with open(path, "ab") as f:
                f.write(b"".join(lines))
            written += len(lines)
        wait_until(lambda: lines_read(e) >= written, timeout=20, what=f"{written} lines read")
        time.sleep(IDLE_S)
    return written


def shared(samples):
    return {k: v for k, v in samples.items() if k[0].startswith("openai_") or k[0] in SHARED_SELF}


def diff_series(a, b, what_a, what_b):
    out = []
    for k in sorted(set(a) | set(b), key=lambda k: (k[0], sorted(k[1]))):
        if k not in a or k not in b or a[k] != b[k]:
            out.append(f"{k[0]}{dict(k[1])}: {what_a} {a.get(k, 'no series')}, {what_b} {b.get(k, 'no series')}")
    return out


def total_of(samples, name, required=True):
    """The sum of a metric's series; a metric without any series is an
    AssertionError unless required=False."""
    return sum(series_of(samples, name, required=required).values())


def check_final(samples, expected, what):
    """The generator's figures, nothing forgotten, the last entry's time."""
    problems = compare(samples, expected)
    evicted = total_of(samples, "ailog_exporter_correlation_evicted_total")
    if evicted:
        problems.append(f"evicted starts: {series_of(samples, 'ailog_exporter_correlation_evicted_total')}")
    if value(samples, "ailog_exporter_negative_durations_total"):
        problems.append(f"negative durations: {value(samples, 'ailog_exporter_negative_durations_total')}")
    if total_of(samples, "ailog_exporter_invalid_timestamps_total"):
        problems.append(f"invalid timestamps: {series_of(samples, 'ailog_exporter_invalid_timestamps_total')}")
    last = value(samples, "ailog_exporter_last_entry_timestamp_seconds")
    if expected["last_time_ms"] is not None and last != expected["last_time_ms"] / 1000:
        problems.append(f"last entry timestamp {last}, want {expected['last_time_ms'] / 1000} "
                        f"({iso_utc(expected['last_time_ms'])})")
    return [f"{what}: {p}" for p in problems]


# ---------------------------------------------------------------------------
# 1. One log, its clock far from the wall clock, tailed with idle moments


def paced_case(name, gen_args, gen_env, exporter_args, exporter_env, problems):
    tmp = tempfile.mkdtemp(prefix="ailog-clock-")
    try:
        corpus = os.path.join(tmp, "corpus.log")
        expected = generate(corpus, "--seed", 71, "--lines", 600, *gen_args, env=gen_env)
        lines = read_lines(corpus)
        batches = batches_of(lines, BATCHES)
        across = straddling(batches)
        assert all(n > 0 for n in across), f"{name}: calls straddling each idle moment: {across}"

        log = os.path.join(tmp, "app.log")
        open(log, "wb").close()
        with EnvExporter(["--start-at", "beginning"] + exporter_args + [log], exporter_env) as e:
            write_paced(e, [[(log, b)] for b in batches])
            wait_until(lambda: lines_read(e) >= expected["lines"], timeout=20, what="every line read")
            served = e.samples()
            found = check_final(served, expected, f"{name}, serve")
            if found:
                print(f"--- {name}: exporter log:\n" + "\n".join(e.stderr().splitlines()[-30:]))
            problems += found
        replayed = parse_exposition(replay("--output", "prometheus", *exporter_args, log,
                                           env=exporter_env).stdout.decode())
        if expected["first_time_ms"] > now_ms():
            # Later than the time replay started: every entry is skipped as "future"...
            entries = sum(expected["entries"].values())
            # (No entry counted: the requests series need not exist.)
            requests = total_of(replayed, "openai_api_requests_total", required=False)
            if reasons(replayed) != {"future": entries} or requests:
                problems.append(f"{name}: replay of a log in the future: invalid timestamps {reasons(replayed)}, "
                                f"want {{'future': {entries}}}, requests {requests}, want 0")
            # ... unless --to says the history ends later.
            replayed = parse_exposition(replay("--output", "prometheus", "--to", iso_utc(now_ms() + 24 * HOUR_MS),
                                               *exporter_args, log, env=exporter_env).stdout.decode())
        problems += [f"{name}: {p}" for p in diff_series(shared(served), shared(replayed), "serve", "replay")]
    except Exception as x:
        problems.append(f"{name}: {type(x).__name__}: {x}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_log_clock_far_from_wall_clock():
    """Starts read before an idle moment are still matched after it, with the
    default --correlation.max-age, whatever the log's clock says: hours
    behind, hours ahead, zone-less local time of another zone (with
    --input.timezone, or the exporter's TZ). Every figure is the generator's
    (failure durations and in-flight included), and replay agrees (a log
    ahead of the clock is in replay's future, skipped and counted as such,
    unless --to names a later end)."""
    now = now_ms()
    span = 15 * 1000  # about the log time 600 lines at 20 calls/s cover
    cases = [
        ("3h behind", ["--flavour", "mixed", "--start", iso_utc(now - 3 * HOUR_MS - span)], {},
         [], {"TZ": "UTC"}),
        ("5h ahead", ["--flavour", "mixed", "--start", iso_utc(now + 5 * HOUR_MS)], {},
         [], {"TZ": "UTC"}),
        ("New York local time, --input.timezone", ["--time-format", "local", "--timezone", NY,
                                                   "--start", iso_utc(now - span)], {},
         ["--input.timezone", NY], {"TZ": "UTC"}),
        ("New York local time, TZ", ["--time-format", "local", "--start", iso_utc(now - span)], {"TZ": NY},
         [], {"TZ": NY}),
        ("Kolkata local time with T, --input.timezone", ["--flavour", "bunyan", "--time-format", "local-t",
                                                         "--timezone", KOLKATA, "--start", iso_utc(now - span)], {},
         ["--input.timezone", KOLKATA], {"TZ": NY}),
    ]
    problems = []
    threads = [threading.Thread(target=paced_case, args=c + (problems,)) for c in cases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not problems, "\n".join(problems[:40])


# ---------------------------------------------------------------------------
# 2. Two inputs with the same requestIds and different clocks


def add_expected(a, b):
    def add(x, y):
        return {k: x.get(k, 0) + y.get(k, 0) for k in set(x) | set(y)}
    return {"metrics": add_metrics(a["metrics"], b["metrics"]), "lines": a["lines"] + b["lines"],
            "bytes": a["bytes"] + b["bytes"], "skipped": add(a["skipped"], b["skipped"]),
            "entries": add(a["entries"], b["entries"]), "unmatched": add(a["unmatched"], b["unmatched"]),
            "last_time_ms": None}  # the last entry read: of either file


def test_inputs_keep_their_own_starts():
    """Two files of one watched directory hold the same calls (same
    requestIds): one in UTC, one an hour earlier in zone-less Kolkata time. Each
    end matches the start of its own file, neither evicts the other's starts:
    the figures are the sum of both files', in serve and in replay."""
    tmp = tempfile.mkdtemp(prefix="ailog-clock-")
    try:
        start = now_ms() - 15 * 1000
        a = os.path.join(tmp, "a.corpus")
        b = os.path.join(tmp, "b.corpus")
        exp_a = generate(a, "--seed", 72, "--lines", 600, "--start", iso_utc(start))
        exp_b = generate(b, "--seed", 72, "--lines", 600, "--start", iso_utc(start - HOUR_MS),
                         "--time-format", "local", "--timezone", KOLKATA)
        ids = lambda p: [e[1] for e in map(entry_of, read_lines(p)) if e]
        assert ids(a) == ids(b), "both files must hold the same requestIds in the same order"
        expected = add_expected(exp_a, exp_b)

        logs = os.path.join(tmp, "logs")
        os.mkdir(logs)
        log_a, log_b = os.path.join(logs, "a.log"), os.path.join(logs, "b.log")
        open(log_a, "wb").close()
        open(log_b, "wb").close()
        batches_a, batches_b = batches_of(read_lines(a), BATCHES), batches_of(read_lines(b), BATCHES)
        assert all(n > 0 for n in straddling(batches_a)), straddling(batches_a)
        args = ["--input.timezone", KOLKATA]
        with EnvExporter(["--start-at", "beginning"] + args + [logs], {"TZ": "UTC"}) as e:
            write_paced(e, [[(log_a, x), (log_b, y)] for x, y in zip(batches_a, batches_b)])
            wait_until(lambda: lines_read(e) >= expected["lines"], timeout=20, what="every line read")
            served = e.samples()
            assert value(served, "ailog_exporter_files_watched") == 2
            problems = check_final(served, expected, "serve")
            assert not problems, "\n".join(problems[:40])
        # Replay merges the files by time: the earlier file's starts that never
        # end are, an hour of replayed time later, "read" longer ago than the
        # default max-age (as a live exporter forgets them after that long).
        replayed = parse_exposition(replay("--output", "prometheus", "--correlation.max-age", "100000d", *args, logs,
                                           env={"TZ": "UTC"}).stdout.decode())
        problems = check_final(replayed, expected, "replay")
        assert not problems, "\n".join(problems[:40])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------
# 3. Absurd timestamps among good lines


ABSURD = [
    # (template flavour, kind, time key, raw JSON value, serve's reason, replay's reason)
    ("pino", "start", "time", "1e300", "out_of_range", "out_of_range"),
    ("pino", "succeeded", "time", "-1e300", "out_of_range", "out_of_range"),
    ("winston", "succeeded", "timestamp", '"2099-06-01T12:00:00.000Z"', None, "future"),
    ("winston", "start", "timestamp", '"2026-13-45T25:61:61Z"', "malformed", "malformed"),
    ("bunyan", "succeeded", "time", '"2025-06-01T12:00:00+99:99"', "malformed", "malformed"),
    ("winston", "succeeded", "timestamp", '"1969-12-31T23:59:59Z"', "out_of_range", "out_of_range"),
]


def flavour_of(obj):
    if "message" in obj:
        return "winston"
    return "bunyan" if "v" in obj else "pino"


def absurd_lines(good):
    """Copies of good entries with a requestId of their own and an absurd time."""
    templates = {}
    for line in good:
        e = entry_of(line)
        if e is None:
            continue
        obj = json.loads(line)
        templates.setdefault((flavour_of(obj), e[0]), obj)
    out = []
    for i, (flavour, kind, key, raw, _, _) in enumerate(ABSURD):
        obj = dict(templates[(flavour, kind)])
        obj["requestId"] = f"absurd-{i}"
        obj.pop("time", None)
        obj.pop("timestamp", None)
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        out.append((text[:-1] + f',"{key}":{raw}}}\n').encode())
    return out


def reasons(samples):
    return {dict(k)["reason"]: v
            for k, v in series_of(samples, "ailog_exporter_invalid_timestamps_total", required=True).items() if v}


def want_reasons(which):
    out = {}
    for row in ABSURD:
        r = row[4 if which == "serve" else 5]
        if r:
            out[r] = out.get(r, 0) + 1
    return out


def test_absurd_timestamps_are_counted_and_bounded():
    """Entries with absurd times (1e300, -1e300, 2099, month 13, offset
    +99:99, 1969) among good lines: replay skips them and counts them by
    reason, its figures are the good lines', it finishes promptly with a sane
    window, and promtool takes its OpenMetrics; serve counts them by reason."""
    tmp = tempfile.mkdtemp(prefix="ailog-clock-")
    try:
        corpus = os.path.join(tmp, "corpus.log")
        expected = generate(corpus, "--flavour", "mixed", "--seed", 73, "--lines", 3000,
                            "--start", "2025-06-01T12:00:00Z")
        good = read_lines(corpus)
        bad = absurd_lines(good)
        mixed, step = list(good), len(good) // (len(bad) + 1)
        for j, line in reversed(list(enumerate(bad))):
            mixed.insert(step * (j + 1), line)
        log = os.path.join(tmp, "app.log")
        with open(log, "wb") as f:
            f.write(b"".join(mixed))
        n_extra, bytes_extra = len(bad), sum(map(len, bad))

        # Final values: the good lines' figures exactly, the absurd ones counted by reason.
        t0 = time.monotonic()
        r = replay("--output", "prometheus", log, timeout=60)
        replayed = parse_exposition(r.stdout.decode())
        problems = compare(replayed, expected, check_self=False)
        assert not problems, "\n".join(problems[:30])
        assert value(replayed, "ailog_exporter_lines_read_total") == expected["lines"] + n_extra
        assert value(replayed, "ailog_exporter_bytes_read_total") == expected["bytes"] + bytes_extra
        assert reasons(replayed) == want_reasons("replay"), (reasons(replayed), want_reasons("replay"))

        # OpenMetrics: bounded, and promtool makes blocks of it.
        om = os.path.join(tmp, "history.om")
        replay("--output", "openmetrics", "-o", om, log, timeout=60)
        size = os.path.getsize(om)
        assert size < 50 << 20, f"OpenMetrics output of {size} bytes for {len(mixed)} lines"
        r = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", om, os.path.join(tmp, "tsdb")],
                           capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr.decode()[-2000:]

        # The summary: a window of real years.
        table = replay(log, timeout=60).stdout.decode()
        window = [x for x in table.splitlines() if x.startswith("Window:")]
        assert window, table[:2000]
        years = [int(y) for y in re.findall(r"\b(\d{4})-\d\d-\d\dT", window[0])]
        assert years and all(1970 <= y <= datetime.now(timezone.utc).year for y in years), window[0]
        s = json.loads(replay("--output", "json", log, timeout=60).stdout)
        assert s["window"] == {"first": iso_utc(expected["first_time_ms"])[:19] + "Z",
                               "last": iso_utc(expected["last_time_ms"])[:19] + "Z"}, s["window"]
        assert s["entries"] == sum(expected["entries"].values()), (s["entries"], expected["entries"])
        invalid = s["lines"].get("invalid_timestamps")
        assert isinstance(invalid, dict), f"--output json does not report invalid timestamps by reason: {s['lines']}"
        assert {k: v for k, v in invalid.items() if v} == want_reasons("replay"), invalid
        assert time.monotonic() - t0 < 60, f"replays took {time.monotonic() - t0:.1f}s"

        # serve: the same lines, the invalid times counted by reason (the
        # entries themselves count, at the time they were read).
        with Exporter(["--start-at", "beginning", log]) as e:
            served = e.wait_for_lines(len(mixed))
            assert reasons(served) == want_reasons("serve"), (reasons(served), want_reasons("serve"))
            got = total_of(served, "ailog_exporter_entries_total")
            assert got == sum(expected["entries"].values()) + len(bad), (got, expected["entries"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------
# 4. Daylight-saving changes


def local_stamps(path):
    out = []
    for line in read_lines(path):
        m = re.search(rb'"(?:timestamp|time)":"(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d\.\d+)"', line)
        if m:
            out.append(datetime.fromisoformat(m.group(1).decode().replace(" ", "T")))
    return out


def openai_lines(path):
    """The OpenMetrics sample lines of the openai_* families, in order."""
    with open(path) as f:
        return [x for x in f.read().splitlines() if x.startswith("openai_")]


def test_daylight_saving_changes():
    """The same entries with Z times and as zone-less New York local time,
    across the 2025 spring-forward and fall-back (the repeated 01:00-02:00):
    replayed with --input.timezone America/New_York, the local one gives
    exactly the Z one's OpenMetrics (every sample at the same instant) and
    the generator's figures."""
    for name, start in (("fall back", "2025-11-02T04:30:00Z"), ("spring forward", "2025-03-09T05:30:00Z")):
        tmp = tempfile.mkdtemp(prefix="ailog-clock-")
        try:
            z = os.path.join(tmp, "z.log")
            local = os.path.join(tmp, "local.log")
            args = ["--flavour", "mixed", "--seed", 74, "--lines", 6000, "--rate", 0.2, "--start", start]
            expected = generate(z, *args)
            assert generate(local, *args, "--time-format", "local", "--timezone", NY)["metrics"] == \
                expected["metrics"]
            assert expected["last_time_ms"] - expected["first_time_ms"] > 2.5 * HOUR_MS
            # The local text really jumps: back an hour in the fall, ahead an hour in spring.
            stamps = local_stamps(local)
            jumps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:])]
            if name == "fall back":
                assert min(jumps) < -3000, min(jumps)
            else:
                assert max(jumps) > 3000, max(jumps)

            om_z, om_local = os.path.join(tmp, "z.om"), os.path.join(tmp, "local.om")
            common = ["--output", "openmetrics", "--step", "60s", "--correlation.max-age", "100000d"]
            replay(*common, "-o", om_z, z, env={"TZ": "UTC"})
            replay(*common, "--input.timezone", NY, "-o", om_local, local, env={"TZ": "UTC"})
            want, got = openai_lines(om_z), openai_lines(om_local)
            assert len(want) > 1000, len(want)
            if got != want:
                diffs = [(w, g) for w, g in zip(want, got) if w != g]
                raise AssertionError(f"{name}: {len(diffs)} of {len(want)} samples differ "
                                     f"({len(got)} samples), first: " + "; ".join(f"want {w!r} got {g!r}"
                                                                                  for w, g in diffs[:3]))
            # The offsets of Z-less lines are the zone's, never the exporter's: TZ changes nothing.
            replay(*common, "--input.timezone", NY, "-o", om_local, local, env={"TZ": KOLKATA})
            assert openai_lines(om_local) == want, f"{name}: the exporter's TZ changed the result"
            replayed = parse_exposition(replay("--output", "prometheus", "--correlation.max-age", "100000d",
                                               "--input.timezone", NY, local).stdout.decode())
            problems = compare(replayed, expected, check_self=False)
            assert not problems, f"{name}:\n" + "\n".join(problems[:30])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------
# Zone-less forms, replay's gaps, a bad zone


def test_zone_less_forms():
    """T or space, no fraction or any number of fraction digits: each is
    New York time with --input.timezone America/New_York (UTC-4 in June)."""
    tmp = tempfile.mkdtemp(prefix="ailog-clock-")
    try:
        forms = ["2025-06-01 08:00:00", "2025-06-01T08:00:00", "2025-06-01 08:00:00.5",
                 "2025-06-01T08:00:00.123456789", "2025-06-01 08:00:00.1234", "2025-06-01T08:00:00.000"]
        for form in forms:
            path = os.path.join(tmp, "one.log")
            with open(path, "w") as f:
                f.write('{"level":"info","message":"executeParse - succeeded","capability":"c","operation":"o",'
                        f'"result":{{"durationMs":5}},"timestamp":"{form}"}}\n')
            samples = parse_exposition(replay("--output", "prometheus", "--input.timezone", NY, path,
                                              env={"TZ": "UTC"}).stdout.decode())
            frac = form.split(".")[1] if "." in form else "0"
            want = 1748779200 + float("0." + frac)  # 2025-06-01T12:00:00Z
            got = value(samples, "ailog_exporter_last_entry_timestamp_seconds")
            assert math.isclose(got, want, abs_tol=1e-3), (form, got, want)
            assert total_of(samples, "openai_api_requests_total") == 1, form
            # The same time with Z is unaffected by the zone.
            if "T" not in form:
                continue
            with open(path, "w") as f:
                f.write('{"level":"info","message":"executeParse - succeeded","capability":"c","operation":"o",'
                        f'"result":{{"durationMs":5}},"timestamp":"{form}Z"}}\n')
            samples = parse_exposition(replay("--output", "prometheus", "--input.timezone", NY, path).stdout.decode())
            got = value(samples, "ailog_exporter_last_entry_timestamp_seconds")
            assert math.isclose(got, want - 4 * 3600, abs_tol=1e-3), (form + "Z", got, want - 4 * 3600)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def entry_line(kind, rid, cap, local):
    msg = {"start": "executeParse - start", "failed": "executeParse - failed",
           "succeeded": "executeParse - succeeded"}[kind]
    extra = ',"result":{"durationMs":5}' if kind == "succeeded" else ""
    return (f'{{"level":"info","message":"{msg}","requestId":"{rid}","capability":"{cap}","operation":"o"{extra},'
            f'"timestamp":"2025-11-02 {local}"}}\n').encode()


def test_repeated_hour_is_resolved_per_input():
    """New York's 01:00-02:00 of 2025-11-02 happens twice (EDT, then EST):
    a local time in it is the occurrence closest to the previous entry of
    the same input, the first one when the input has none."""
    edt = est = "2025-11-02T%sZ"  # the UTC instants (EDT = UTC-4, EST = UTC-5)
    cases = [  # local times of one file -> the instant of its last entry
        (["01:30:00"], edt % "05:30:00"),                  # no previous entry: the first occurrence
        (["01:50:00", "01:10:00"], est % "06:10:00"),      # 40 min back, or 20 min on: on
        (["01:50:00", "01:40:00"], edt % "05:40:00"),      # 10 min back, or 50 min on: back
        (["00:59:00", "01:30:00"], edt % "05:30:00"),      # before the repeated hour
        (["02:10:00", "01:30:00"], est % "06:30:00"),      # after it (02:10 EST)
    ]
    tmp = tempfile.mkdtemp(prefix="ailog-clock-")
    try:
        path = os.path.join(tmp, "one.log")
        for times, want in cases:
            with open(path, "wb") as f:
                f.write(b"".join(entry_line("succeeded", f"r{i}", "c", t) for i, t in enumerate(times)))
            samples = parse_exposition(replay("--output", "prometheus", "--input.timezone", NY, path,
                                              env={"TZ": "UTC"}).stdout.decode())
            got = value(samples, "ailog_exporter_last_entry_timestamp_seconds")
            want_s = datetime.fromisoformat(want.replace("Z", "+00:00")).timestamp()
            assert got == want_s, (times, iso_utc(got * 1000), want)

        # Two inputs read in turns: each resolves against its own previous entry.
        # p's end (01:10) after q's 02:10 EST is 5 min after p's start (01:05
        # EDT), not 65; q's start and end follow q's own 02:10.
        logs = os.path.join(tmp, "logs")
        os.mkdir(logs)
        p, q = os.path.join(logs, "p.log"), os.path.join(logs, "q.log")
        open(p, "wb").close()
        open(q, "wb").close()
        steps = [(p, entry_line("start", "same", "p", "01:05:00")),
                 (q, entry_line("succeeded", "other", "q", "02:10:00")),
                 (p, entry_line("failed", "same", "p", "01:10:00")),
                 (q, entry_line("start", "same", "q", "01:30:00")),
                 (q, entry_line("failed", "same", "q", "01:35:00"))]
        with EnvExporter(["--start-at", "beginning", "--input.timezone", NY, logs], {"TZ": "UTC"}) as e:
            for n, (path, line) in enumerate(steps, 1):
                with open(path, "ab") as f:
                    f.write(line)
                wait_until(lambda: lines_read(e) >= n, timeout=20, what=f"{n} lines read")
            s = e.samples()
            for cap in ("p", "q"):
                labels = dict(capability=cap, operation="o", status="failure")
                got = (value(s, "openai_api_request_duration_ms_count", **labels),
                       value(s, "openai_api_request_duration_ms_sum", **labels))
                assert got == (1, 300000), (cap, got)
            assert total_of(s, "ailog_exporter_unmatched_entries_total") == 1, \
                series_of(s, "ailog_exporter_unmatched_entries_total")  # q's "other"
            assert total_of(s, "ailog_exporter_correlation_evicted_total") == 0, \
                series_of(s, "ailog_exporter_correlation_evicted_total")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def om_timestamps(path):
    """Sample timestamps (seconds) of an OpenMetrics file."""
    out = set()
    with open(path) as f:
        for line in f:
            if line.startswith("openai_"):
                out.add(float(line.split()[-1]))
    return out


def test_replay_gaps_are_bounded():
    """Two bursts years apart: OpenMetrics samples every --step while entries
    arrive, for at most --max-gap after an entry, and again from one step
    before the next entry; promtool takes the result."""
    tmp = tempfile.mkdtemp(prefix="ailog-clock-")
    try:
        a, b = os.path.join(tmp, "a.log"), os.path.join(tmp, "b.log")
        exp_a = generate(a, "--seed", 75, "--lines", 300, "--start", "2021-03-01T00:00:00Z")
        exp_b = generate(b, "--seed", 76, "--lines", 300, "--start", "2025-06-01T00:00:00Z")
        log = os.path.join(tmp, "app.log")
        with open(log, "wb") as f:
            f.write(b"".join(read_lines(a) + read_lines(b)))
        step = 300
        for max_gap, gap_s in ((None, 24 * 3600), ("1h", 3600)):
            om = os.path.join(tmp, "out.om")
            extra = ["--max-gap", max_gap] if max_gap else []
            t0 = time.monotonic()
            replay("--output", "openmetrics", "--step", f"{step}s", *extra, "-o", om, log, timeout=60)
            assert time.monotonic() - t0 < 30
            stamps = om_timestamps(om)
            ranges = [(exp_a["first_time_ms"] / 1000 - step, exp_a["last_time_ms"] / 1000 + gap_s + step),
                      (exp_b["first_time_ms"] / 1000 - step, exp_b["last_time_ms"] / 1000 + gap_s + step)]
            outside = sorted(t for t in stamps if not any(lo <= t <= hi for lo, hi in ranges))
            assert not outside, f"--max-gap {max_gap}: {len(outside)} sample times outside the bursts, " \
                                f"e.g. {outside[:3]}"
            # Samples go on for the whole gap after the first burst, and every step.
            after_a = sorted(t for t in stamps if ranges[0][0] <= t <= ranges[0][1])
            assert after_a[-1] >= exp_a["last_time_ms"] / 1000 + gap_s - step, (max_gap, after_a[-1])
            assert all(y - x == step for x, y in zip(after_a, after_a[1:])), max_gap
            in_b = sorted(t for t in stamps if ranges[1][0] <= t <= ranges[1][1])
            assert in_b and in_b[0] <= exp_b["first_time_ms"] / 1000, (max_gap, in_b[:2])
            r = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", om,
                                os.path.join(tmp, "tsdb-" + (max_gap or "default"))], capture_output=True, timeout=120)
            assert r.returncode == 0, r.stderr.decode()[-2000:]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_unknown_zone_is_refused():
    tmp = tempfile.mkdtemp(prefix="ailog-clock-")
    try:
        log = os.path.join(tmp, "app.log")
        open(log, "w").close()
        for cmd in (["serve", "--web.listen-address", "127.0.0.1:0", log], ["replay", log]):
            r = subprocess.run([binary()] + cmd[:1] + ["--input.timezone", "Nowhere/Invalid"] + cmd[1:],
                               capture_output=True, timeout=10)
            err = r.stderr.decode()
            assert r.returncode == 2, (cmd[0], r.returncode, err)
            assert "--input.timezone" in err, (cmd[0], err)
            assert "address=" not in err, (cmd[0], err)  # refused before listening
        for zone in ("UTC", "Local", NY):
            r = replay("--output", "json", "--input.timezone", zone, log)
            assert json.loads(r.stdout)["entries"] == 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_tests([test_log_clock_far_from_wall_clock, test_inputs_keep_their_own_starts,
               test_absurd_timestamps_are_counted_and_bounded, test_daylight_saving_changes,
               test_repeated_hour_is_resolved_per_input, test_zone_less_forms, test_replay_gaps_are_bounded,
               test_unknown_zone_is_refused])
