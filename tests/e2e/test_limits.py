"""Limits and what happens at them, end to end with the real binary:
--metrics.max-series (the series kept, the updates dropped, per metric),
the listen address (`:PORT` on every IPv4 interface, IPv6 in brackets), the
once-a-second logging of bad lines, and a state directory the exporter may
not write to."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter

from harness import (Exporter, binary, give_to_unprivileged, run_tests, series_of, show_series,
                     unprivileged, value, wait_until)

OPENAI_METRICS = ("openai_api_requests_total", "openai_api_request_duration_ms", "openai_api_tokens_total",
                  "openai_api_request_errors_total", "openai_api_requests_in_flight")
BOUNDS = (10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
LES = ("10", "50", "100", "250", "500", "1000", "2500", "5000", "10000", "+Inf")


class TempDir:
    """A temporary directory that an unprivileged user may traverse."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="ailog-limits-")
        os.chmod(self.path, 0o755)
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def append(path, lines):
    with open(path, "ab") as f:
        f.write("".join(line + "\n" for line in lines).encode())


# ---------------------------------------------------------------------------
# --metrics.max-series

def start_entry(rid, cap, second):
    return ('{"level":"info","message":"executeParse - start","requestId":"%s","capability":"%s",'
            '"operation":"core","timestamp":"2025-06-01T12:00:%02d.000Z"}' % (rid, cap, second))


def succeeded_entry(rid, cap, second, ms, tokens_in, tokens_out):
    return ('{"level":"info","message":"executeParse - succeeded","requestId":"%s","capability":"%s",'
            '"operation":"core","result":{"durationMs":%s,"usage":{"tokens":{"input":%d,"output":%d}}},'
            '"timestamp":"2025-06-01T12:00:%02d.000Z"}' % (rid, cap, ms, tokens_in, tokens_out, second))


def failed_entry(rid, cap, second, code):
    return ('{"level":"error","message":"executeParse - failed","requestId":"%s","capability":"%s",'
            '"operation":"core","openaiErrorStatusCode":%d,"timestamp":"2025-06-01T12:00:%02d.000Z"}'
            % (rid, cap, code, second))


ERROR_TYPES = {429: "RATE_LIMITED", 500: "PROVIDER_ERROR", 503: "PROVIDER_UNAVAILABLE"}


class SeriesModel:
    """The exporter's contract for a series limit, written out: an update to
    an existing series is applied; an update that would create a series is
    applied while fewer than `limit` openai_* series exist, else dropped and
    counted for its metric, every time it is attempted. Histograms count as
    one series. Returns the exposition samples the exporter must serve."""

    def __init__(self, limit):
        self.limit = limit
        self.series = {}   # (metric, labels) -> value, or [buckets, sum] for the histogram
        self.dropped = Counter()
        self.open = {}     # requestId -> (in-flight series key or None, start second)

    def _get(self, metric, labels, initial):
        key = (metric, frozenset(labels.items()))
        if key in self.series:
            return key
        if len(self.series) >= self.limit:
            self.dropped[metric] += 1
            return None
        self.series[key] = initial
        return key

    def add(self, metric, labels, v):
        key = self._get(metric, labels, 0.0)
        if key is not None:
            self.series[key] += v

    def observe(self, labels, v):
        key = self._get("openai_api_request_duration_ms", labels, None)
        if key is None:
            return
        if self.series[key] is None:
            self.series[key] = [[0] * len(LES), 0.0]
        h = self.series[key]
        h[0][next((i for i, b in enumerate(BOUNDS) if v <= b), len(BOUNDS))] += 1
        h[1] += v

    def start(self, rid, cap, second):
        key = self._get("openai_api_requests_in_flight", {"capability": cap, "operation": "core"}, 0.0)
        if key is not None:
            self.series[key] += 1
        self.open[rid] = (key, second)

    def _end(self, rid):
        key, second = self.open.pop(rid)
        if key is not None:
            self.series[key] -= 1
        return second

    def succeeded(self, rid, cap, second, ms, tokens_in, tokens_out):
        self._end(rid)
        labels = {"capability": cap, "operation": "core"}
        self.add("openai_api_requests_total", dict(labels, status="success"), 1)
        self.observe(dict(labels, status="success"), ms)
        self.add("openai_api_tokens_total", dict(labels, type="input"), tokens_in)
        self.add("openai_api_tokens_total", dict(labels, type="output"), tokens_out)

    def failed(self, rid, cap, second, code):
        started = self._end(rid)
        labels = {"capability": cap, "operation": "core"}
        self.add("openai_api_requests_total", dict(labels, status="failure"), 1)
        self.observe(dict(labels, status="failure"), (second - started) * 1000.0)
        self.add("openai_api_request_errors_total", dict(labels, error_type=ERROR_TYPES[code]), 1)

    def samples(self):
        out = {}
        for (metric, labels), v in self.series.items():
            if metric != "openai_api_request_duration_ms":
                out[(metric, labels)] = v
                continue
            buckets, total = v
            cumulative = 0
            for le, n in zip(LES, buckets):
                cumulative += n
                out[(metric + "_bucket", labels | {("le", le)})] = float(cumulative)
            out[(metric + "_count", labels)] = float(cumulative)
            out[(metric + "_sum", labels)] = total
        return out


def calls(model, tag, caps, rounds, second):
    """Lines of `rounds` rounds of calls on each capability: a start and its
    success, a start and its failure (with the model updated alike)."""
    lines = []
    codes = list(ERROR_TYPES)
    for r in range(rounds):
        for i, cap in enumerate(caps):
            ok, bad = f"{tag}-{r}-{cap}-ok", f"{tag}-{r}-{cap}-bad"
            ms, tin, tout, code = 7 + 97 * i + r, 10 + i, 3 + r, codes[(i + r) % len(codes)]
            lines.append(start_entry(ok, cap, second))
            model.start(ok, cap, second)
            lines.append(start_entry(bad, cap, second))
            model.start(bad, cap, second)
            lines.append(succeeded_entry(ok, cap, second + 1, ms, tin, tout))
            model.succeeded(ok, cap, second + 1, ms, tin, tout)
            lines.append(failed_entry(bad, cap, second + 2, code))
            model.failed(bad, cap, second + 2, code)
    return lines


def limit_problems(samples, model):
    """Every openai_* series and the series self-metrics against the model."""
    problems = []
    want = model.samples()
    got = {k: v for k, v in samples.items() if k[0].startswith("openai_")}
    for key in sorted(set(want) | set(got), key=lambda k: (k[0], sorted(k[1]))):
        if key not in got:
            problems.append(f"missing {show_series(*key)} (want {want[key]:g})")
        elif key not in want:
            problems.append(f"unexpected {show_series(*key)} = {got[key]:g}")
        elif got[key] != want[key]:
            problems.append(f"{show_series(*key)}: {got[key]:g}, want {want[key]:g}")
    kept = len(model.series)
    for name, labels, w in [("ailog_exporter_series", {}, kept),
                            ("ailog_exporter_series_limit", {}, model.limit)] + \
                           [("ailog_exporter_series_dropped_total", {"metric": m}, model.dropped[m])
                            for m in OPENAI_METRICS]:
        have = value(samples, name, **labels)
        if have != w:
            problems.append(f"{show_series(name, labels)}: {have:g}, want {w:g}")
    extra = set(dict(k)["metric"] for k in series_of(samples, "ailog_exporter_series_dropped_total", required=True))
    if extra != set(OPENAI_METRICS):
        problems.append(f"ailog_exporter_series_dropped_total for {sorted(extra)}, want {sorted(OPENAI_METRICS)}")
    return problems


def test_max_series_keeps_the_first_series_and_counts_dropped_updates():
    """More label sets than --metrics.max-series: the first series created
    are kept and updated exactly; every update that would create a series
    beyond the limit is dropped and counted for its metric, each time (a
    second round on the same dropped label sets counts again)."""
    limit = 13
    model = SeriesModel(limit)
    with TempDir() as d:
        log = os.path.join(d, "app.log")
        lines = calls(model, "a", [f"cap-{i}" for i in range(5)], rounds=2, second=0)
        append(log, lines)
        # Each capability brings 8 series (in flight, requests and durations of
        # both outcomes, two token types, one error type): far more than the limit.
        assert len(model.series) == limit and sum(model.dropped.values()) > 20, (len(model.series), model.dropped)
        assert all(model.dropped[m] > 0 for m in OPENAI_METRICS), model.dropped
        with Exporter(["--start-at", "beginning", "--correlation.max-age", "100000d",
                       "--metrics.max-series", str(limit), log]) as e:
            samples = e.wait_for_lines(len(lines))
            problems = limit_problems(samples, model)
            assert not problems, "\n".join(problems[:40])
            assert value(samples, "ailog_exporter_entries_total", kind="start") == len(lines) // 2
            # Later calls: on the kept series (applied) and on new label sets (dropped).
            more = calls(model, "b", ["cap-0", "cap-new"], rounds=1, second=10)
            append(log, more)
            samples = e.wait_for_lines(len(lines) + len(more))
            problems = limit_problems(samples, model)
            assert not problems, "after more calls:\n" + "\n".join(problems[:40])


# ---------------------------------------------------------------------------
# Listen addresses

def answers(host, port):
    """True when GET /-/healthy on host:port answers 200; False when the
    connection is refused."""
    try:
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(b"GET /-/healthy HTTP/1.0\r\nHost: x\r\n\r\n")
            reply = b""
            while chunk := s.recv(4096):
                reply += chunk
        return reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n")[0]
    except ConnectionRefusedError:
        return False


def test_port_alone_listens_on_every_ipv4_interface():
    """`:PORT` (and 0.0.0.0:PORT) answers on 127.0.0.1 and on another
    loopback address (127.0.0.2: only a socket bound to every interface
    answers there), while 127.0.0.1:PORT answers on 127.0.0.1 only. Tests
    connect to loopback addresses only."""
    targets = ["127.0.0.1", "127.0.0.2"]
    print(f"     addresses tried: {', '.join(targets)}")
    with TempDir() as d:
        log = os.path.join(d, "app.log")
        open(log, "w").close()
        for listen in (":0", "0.0.0.0:0"):
            with Exporter([log], listen=listen) as e:
                host, port = e.address.rsplit(":", 1)
                assert host == "0.0.0.0", (listen, e.address)
                for target in targets:
                    assert answers(target, int(port)), f"--web.listen-address {listen}: no answer on {target}:{port}"
        with Exporter([log], listen="127.0.0.1:0") as e:
            port = int(e.address.rsplit(":", 1)[1])
            assert answers("127.0.0.1", port)
            for target in targets[1:]:
                assert not answers(target, port), f"127.0.0.1:{port} also answers on {target}"


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_ipv6_address_is_served():
    if not ipv6_loopback():
        print("     skipped: this host has no IPv6 loopback")
        return
    with TempDir() as d:
        log = os.path.join(d, "app.log")
        open(log, "w").close()
        p = subprocess.Popen([binary(), "serve", "--web.listen-address", "[::1]:0", log], stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        try:
            line = p.stderr.readline().decode()
            m = re.search(r"address=\[::1\]:([0-9]+)", line)
            assert m, line
            with urllib.request.urlopen(f"http://[::1]:{m.group(1)}/-/healthy", timeout=10) as r:
                assert r.status == 200
        finally:
            p.terminate()
            p.wait(timeout=10)
        # An address that is not this host's cannot be bound: exit 2, one message.
        r = subprocess.run([binary(), "serve", "--web.listen-address", "[2001:db8::1]:0", log], capture_output=True,
                           timeout=10, stdin=subprocess.DEVNULL)
        assert r.returncode == 2, (r.returncode, r.stderr)
        assert b"[2001:db8::1]" in r.stderr and b"listening" not in r.stderr, r.stderr


# ---------------------------------------------------------------------------
# Bad lines are logged at most once a second per reason

WARNING = re.compile(r'^skipped line reason=(\S+) source=(\S+) similar_suppressed=(\d+) sample="(.*)"$')


def warnings(e):
    """(time, reason, similar_suppressed, sample) of each skipped-line warning."""
    out = []
    with open(e.stderr_path, "rb") as f:
        for raw in f.read().splitlines():
            record = json.loads(raw.decode("utf-8"))
            m = WARNING.match(record["msg"])
            if m:
                assert record["level"] == "warn", record
                ts = time.mktime(time.strptime(record["ts"][:19], "%Y-%m-%dT%H:%M:%S")) + \
                    int(record["ts"][20:23]) / 1000
                out.append((ts, m.group(1), int(m.group(3)), m.group(4)))
    return out


def test_bad_lines_are_logged_once_a_second_per_reason():
    """200 invalid JSON lines written over about 3 s (and 20 JSON arrays among
    them, another reason): the first of each reason is logged at once with
    its sample, later ones at most once a second with the number suppressed
    since the previous warning of that reason; a line written after a quiet
    second reports the rest. Logged plus suppressed is every line, and
    lines_skipped_total counts each reason exactly."""
    bad = [f'{{"message":"executeParse - start","requestId":"bad-{i:03d}","capability":' for i in range(200)]
    arrays = [f"[{i}]" for i in range(20)]
    with TempDir() as d:
        log = os.path.join(d, "app.log")
        open(log, "w").close()
        with Exporter(["--log.format", "json", "--start-at", "beginning", log]) as e:
            wait_until(lambda: e.get("/-/ready")[0] == 200, what="ready")
            t0 = time.monotonic()
            written = 0
            for batch in range(12):
                chunk = bad[batch * 17:(batch + 1) * 17] + arrays[batch * 2:(batch + 1) * 2]
                append(log, chunk)
                written += len(chunk)
                time.sleep(0.25)
            assert written == len(bad) + len(arrays)
            spread = time.monotonic() - t0
            e.wait_for_lines(written)
            time.sleep(1.1)
            tail_bad, tail_array = '{"unterminated', "[true]"
            append(log, [tail_bad, tail_array])
            samples = e.wait_for_lines(written + 2)

            def both_flushed():
                got = warnings(e)
                n = Counter()
                for _, reason, suppressed, _ in got:
                    n[reason] += 1 + suppressed
                return got if n["invalid_json"] == len(bad) + 1 and n["not_object"] == len(arrays) + 1 else None
            try:
                logged = wait_until(both_flushed, timeout=10, what="warnings accounting for every bad line")
            except AssertionError as x:
                raise AssertionError(f"{x}: {warnings(e)}") from None

            for reason, lines, tail in (("invalid_json", bad, tail_bad), ("not_object", arrays, tail_array)):
                mine = [w for w in logged if w[1] == reason]
                # The first at once, with the first line as its sample and nothing suppressed.
                assert mine[0][2:] == (0, lines[0]), (reason, mine[0])
                # The last one: the line after the quiet second, reporting everything since the previous.
                assert mine[-1][3] == tail and mine[-1][2] > 0, (reason, mine[-1])
                for _, _, _, sample in mine[1:-1]:
                    assert sample in lines, (reason, sample)
                # About one a second: never two within a second, more than one while lines kept coming.
                gaps = [b[0] - a[0] for a, b in zip(mine, mine[1:])]
                assert all(g >= 0.9 for g in gaps), (reason, gaps)
                assert 3 <= len(mine) <= spread + 3, (reason, len(mine), spread)
                assert value(samples, "ailog_exporter_lines_skipped_total", reason=reason) == len(lines) + 1
            others = {dict(k)["reason"]: v for k, v in
                      series_of(samples, "ailog_exporter_lines_skipped_total", required=True).items()
                      if v and dict(k)["reason"] not in ("invalid_json", "not_object")}
            assert not others, others
            assert value(samples, "ailog_exporter_lines_read_total") == written + 2


# ---------------------------------------------------------------------------
# A state directory the exporter may not write to

def state_figures(e):
    s = e.samples()
    return (value(s, "ailog_exporter_state_writes_total"), value(s, "ailog_exporter_state_write_failures_total"),
            value(s, "ailog_exporter_state_last_write_timestamp_seconds"), value(s, "ailog_exporter_lines_read_total"))


def start_line(i):
    return start_entry(f"s-{i}", "parse-task", 0)


def test_unwritable_state_directory_counts_failures_and_keeps_serving():
    """The state directory becomes read-only for the exporter's user (root
    runs it as nobody): commits fail and are counted, the writes counter and
    the last write's time stand still, the exporter keeps reading and
    serving, one error names the file. Writable again, commits resume."""
    with TempDir() as d:
        state_dir = os.path.join(d, "state")
        os.mkdir(state_dir)
        give_to_unprivileged(state_dir)
        state = os.path.join(state_dir, "state.json")
        log = os.path.join(d, "app.log")
        append(log, [start_line(0)])
        os.chmod(log, 0o644)
        with Exporter(["--start-at", "beginning", "--correlation.max-age", "100000d", "--state.file", state,
                       "--state.interval", "200ms", log], prefix=unprivileged()) as e:
            wait_until(lambda: state_figures(e)[0] >= 2 and state_figures(e)[3] == 1, what="two commits")
            assert state_figures(e)[1] == 0, state_figures(e)

            os.chmod(state_dir, 0o555)
            # A commit under way when the mode changed may still succeed: count from the first failure.
            wait_until(lambda: state_figures(e)[1] >= 1, what="a failed commit")
            writes, failures, last_write, _ = state_figures(e)
            lines = 1
            for i in range(1, 4):
                append(log, [start_line(i)])
                lines += 1
                wait_until(lambda: state_figures(e)[3] == lines, what=f"{lines} lines read")
            wait_until(lambda: state_figures(e)[1] >= failures + 3, what="more failed commits")
            w, f, lw, n = state_figures(e)
            assert (w, lw, n) == (writes, last_write, lines), ((w, lw, n), (writes, last_write, lines))
            assert e.get("/-/healthy")[0] == 200 and e.get("/-/ready")[0] == 200
            assert e.proc.poll() is None
            errors = [x for x in e.stderr().splitlines() if "cannot write the state file" in x]
            assert len(errors) == 1 and state_dir in errors[0] and "Permission denied" in errors[0], errors

            os.chmod(state_dir, 0o755)
            wait_until(lambda: state_figures(e)[0] >= writes + 2, what="commits again")
            w, f2, lw2, _ = state_figures(e)
            assert lw2 > last_write and f2 >= f, (lw2, last_write, f2, f)
            with open(state) as fh:
                saved = json.load(fh)
            assert saved["counters"]["lines_read"] == lines, saved["counters"]
            assert saved["counters"]["state_write_failures"] >= f, saved["counters"]


def test_state_directory_unwritable_from_the_start():
    """Read-only from the start: the exporter starts, serves and reads; every
    commit fails and is counted, none is written."""
    with TempDir() as d:
        state_dir = os.path.join(d, "state")
        os.mkdir(state_dir)
        give_to_unprivileged(state_dir)
        os.chmod(state_dir, 0o555)
        state = os.path.join(state_dir, "state.json")
        log = os.path.join(d, "app.log")
        append(log, [start_line(0), start_line(1)])
        os.chmod(log, 0o644)
        with Exporter(["--start-at", "beginning", "--correlation.max-age", "100000d", "--state.file", state,
                       "--state.interval", "200ms", log], prefix=unprivileged()) as e:
            wait_until(lambda: state_figures(e)[1] >= 3, what="three failed commits")
            writes, _, last_write, lines = state_figures(e)
            assert (writes, last_write, lines) == (0, 0, 2), (writes, last_write, lines)
            assert e.get("/-/ready")[0] == 200
            assert not os.path.exists(state)
            assert e.stop() == 0
        assert not os.listdir(state_dir), os.listdir(state_dir)


def test_full_state_directory_counts_failures_and_catches_up():
    """The state file's file system fills up (a 1 MB tmpfs, mounted where the
    test runs as root; skipped elsewhere): commits fail and are counted,
    reading and serving go on, and once there is room the next commit holds
    everything read meanwhile."""
    if os.geteuid() != 0:
        print("     skipped: mounting a tmpfs needs root")
        return
    with TempDir() as d:
        state_dir = os.path.join(d, "state")
        os.mkdir(state_dir)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", state_dir], capture_output=True)
        if r.returncode != 0:
            print(f"     skipped: cannot mount a tmpfs here ({r.stderr.decode().strip()})")
            return
        try:
            state = os.path.join(state_dir, "state.json")
            log = os.path.join(d, "app.log")
            append(log, [start_line(0)])
            with Exporter(["--start-at", "beginning", "--correlation.max-age", "100000d", "--state.file", state,
                           "--state.interval", "200ms", log]) as e:
                wait_until(lambda: state_figures(e)[0] >= 2 and state_figures(e)[3] == 1, what="two commits")
                filler = os.path.join(state_dir, "filler")
                with open(filler, "wb", buffering=0) as f:
                    try:
                        while True:
                            f.write(b"\0" * 4096)
                    except OSError:
                        pass  # full
                wait_until(lambda: state_figures(e)[1] >= 1, what="a failed commit")
                writes, failures, last_write, _ = state_figures(e)
                for i in range(1, 4):
                    append(log, [start_line(i)])
                wait_until(lambda: state_figures(e)[3] == 4 and state_figures(e)[1] >= failures + 2,
                           what="lines read while commits fail")
                assert state_figures(e)[0] == writes and e.get("/-/ready")[0] == 200
                errors = [x for x in e.stderr().splitlines() if "cannot write the state file" in x]
                assert errors and "No space left" in errors[0], errors
                os.unlink(filler)
                wait_until(lambda: state_figures(e)[0] >= writes + 1, what="a commit once there is room")
                with open(state) as fh:
                    saved = json.load(fh)
                assert saved["counters"]["lines_read"] == 4, saved["counters"]
                assert saved["counters"]["state_write_failures"] >= failures + 2, saved["counters"]
                assert len(saved["open_starts"]) == 4
                assert not [x for x in os.listdir(state_dir) if x != "state.json"], os.listdir(state_dir)
        finally:
            subprocess.run(["umount", state_dir], check=False)


if __name__ == "__main__":
    run_tests([test_max_series_keeps_the_first_series_and_counts_dropped_updates,
               test_port_alone_listens_on_every_ipv4_interface, test_ipv6_address_is_served,
               test_bad_lines_are_logged_once_a_second_per_reason,
               test_unwritable_state_directory_counts_failures_and_keeps_serving,
               test_state_directory_unwritable_from_the_start,
               test_full_state_directory_counts_failures_and_catches_up])
