"""replay end to end: a multi-hour history (a rotated set with .gz files plus a
second pod's file) replayed to OpenMetrics, turned into blocks by the real
promtool, served by the real Prometheus, and checked through its HTTP API
against the generator's figures: final values, values at a mid-window step,
and seed 000's dashboard queries. Also: replay equals serve, the summary, the
time window, entries without timestamps, the progress bar."""

import glob
import gzip
import json
import math
import os
import pty
import resource
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request

from harness import (ROOT, Exporter, add_metrics, binary, compare, deal_calls, free_port, generate, parse_exposition,
                     run_tests, series_of, value, wait_until)

STEP_S = 15
BUCKETS = [10, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
START = "2025-06-01T00:00:00Z"
START_MS = 1748736000000
HOUR = 3600 * 1000
# Instants (step boundaries) at which figures are checked.
MID = START_MS + 1 * HOUR
DASH = START_MS + 2 * HOUR + 30 * 60 * 1000
CHECKPOINTS = [MID, DASH - 5 * 60 * 1000, DASH]



def replay(*args, check=True):
    r = subprocess.run([binary(), "replay"] + [str(a) for a in args], capture_output=True, timeout=300)
    if check:
        assert r.returncode == 0, r.stderr.decode()
    return r


def split_rotated(corpus, directory):
    """Splits a log into app.log.3.gz, app.log.2.gz, app.log.1, app.log at
    arbitrary line boundaries (calls straddle the files)."""
    with open(corpus, "rb") as f:
        lines = f.read().split(b"\n")[:-1]
    cuts = [0, len(lines) * 3 // 10, len(lines) * 55 // 100, len(lines) * 8 // 10, len(lines)]
    names = ["app.log.3.gz", "app.log.2.gz", "app.log.1", "app.log"]
    for name, a, b in zip(names, cuts, cuts[1:]):
        data = b"".join(line + b"\n" for line in lines[a:b])
        path = os.path.join(directory, name)
        if name.endswith(".gz"):
            with gzip.open(path, "wb") as g:
                g.write(data)
        else:
            with open(path, "wb") as f:
                f.write(data)


def total(metrics, name, **match):
    return sum(s["value"] for s in metrics.get(name, [])
               if all(s["labels"].get(k) == v for k, v in match.items()))


def quantile(q, cumulative):
    """Prometheus's histogram_quantile on cumulative counts (le order, +Inf last)."""
    n = cumulative[-1]
    if n == 0:
        return math.nan
    rank = q * n
    i = next(i for i, c in enumerate(cumulative) if c >= rank)
    if i == len(BUCKETS):
        return BUCKETS[-1]
    lower = 0 if i == 0 else BUCKETS[i - 1]
    below = 0 if i == 0 else cumulative[i - 1]
    return lower + (BUCKETS[i] - lower) * (rank - below) / (cumulative[i] - below)


def summed_buckets(metrics):
    keys = [str(b) for b in BUCKETS] + ["+Inf"]
    out = [0] * len(keys)
    for s in metrics.get("openai_api_request_duration_ms", []):
        for i, k in enumerate(keys):
            out[i] += s["buckets"][k]
    return out


class Prometheus:
    def __init__(self, tsdb, tmp):
        self.port = free_port()
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 15s\n")
        self.log = open(os.path.join(tmp, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tsdb}",
             "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(self.ready, timeout=60, what="prometheus ready")

    def ready(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
            return r.status == 200

    def query(self, expr, at_ms):
        url = (f"http://127.0.0.1:{self.port}/api/v1/query?"
               + urllib.parse.urlencode({"query": expr, "time": f"{at_ms / 1000:.3f}"}))
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return {frozenset((k, v) for k, v in s["metric"].items() if k != "__name__"): float(s["value"][1])
                for s in body["data"]["result"]}

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def check_instant(prom, metrics, at_ms, what):
    """Every series and bucket of `metrics` equals Prometheus's value at at_ms."""
    problems = []
    for name, series in metrics.items():
        if "buckets" in (series[0] if series else {}):
            got_b = prom.query(name + "_bucket", at_ms)
            got_c = prom.query(name + "_count", at_ms)
            got_s = prom.query(name + "_sum", at_ms)
            for s in series:
                for le, c in s["buckets"].items():
                    key = frozenset(dict(s["labels"], le=le).items())
                    if got_b.get(key) != c:
                        problems.append(f"{what}: {name}_bucket{dict(key)} = {got_b.get(key)}, want {c}")
                key = frozenset(s["labels"].items())
                if got_c.get(key) != s["count"]:
                    problems.append(f"{what}: {name}_count{s['labels']} = {got_c.get(key)}, want {s['count']}")
                if got_s.get(key) is None or not math.isclose(got_s[key], s["sum"], rel_tol=1e-9):
                    problems.append(f"{what}: {name}_sum{s['labels']} = {got_s.get(key)}, want {s['sum']}")
        else:
            got = prom.query(name, at_ms)
            for s in series:
                key = frozenset(s["labels"].items())
                if got.get(key) != s["value"]:
                    problems.append(f"{what}: {name}{s['labels']} = {got.get(key)}, want {s['value']}")
    assert not problems, "\n".join(problems[:30])


def test_backfill_through_promtool_and_prometheus():
    tmp = tempfile.mkdtemp(prefix="ailog-replay-")
    checkpoints = [a for c in CHECKPOINTS for a in ("--checkpoint-at", c)]
    pod_a = os.path.join(tmp, "a.log")
    exp_a = generate(pod_a, pod_a + ".json", "--flavour", "winston", "--seed", 21, "--lines", 60000, "--rate", 2,
                     "--start", START, *checkpoints)
    pod_b = os.path.join(tmp, "pod-b.log")
    exp_b = generate(pod_b, pod_b + ".json", "--flavour", "pino", "--seed", 22, "--lines", 30000, "--rate", 1,
                     "--start", START, *checkpoints)
    assert exp_a["last_time_ms"] > DASH and exp_b["last_time_ms"] > DASH, "the history must span the checks"
    rotated = os.path.join(tmp, "pod-a")
    os.mkdir(rotated)
    split_rotated(pod_a, rotated)

    om = os.path.join(tmp, "history.om")
    replay("--output", "openmetrics", "-o", om, "--step", f"{STEP_S}s", "--correlation.max-age", "100000d",
           rotated, pod_b)
    tsdb = os.path.join(tmp, "tsdb")
    r = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", om, tsdb], capture_output=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr.decode()[-2000:]

    prom = Prometheus(tsdb, tmp)
    try:
        final = add_metrics(exp_a["metrics"], exp_b["metrics"])
        last = max(exp_a["last_time_ms"], exp_b["last_time_ms"])
        end = math.ceil(last / (STEP_S * 1000)) * STEP_S * 1000
        check_instant(prom, final, end, "final")
        mid = add_metrics(exp_a["checkpoints"][str(MID)], exp_b["checkpoints"][str(MID)])
        check_instant(prom, mid, MID, "mid-window")

        # Seed 000's dashboard queries at DASH, over [DASH - 5m, DASH]: samples
        # sit on both ends of the window, so rate() is the exact difference / 300 s.
        now = add_metrics(exp_a["checkpoints"][str(DASH)], exp_b["checkpoints"][str(DASH)])
        before = add_metrics(exp_a["checkpoints"][str(DASH - 300000)], exp_b["checkpoints"][str(DASH - 300000)])
        ok_delta = total(now, "openai_api_requests_total", status="success") - \
            total(before, "openai_api_requests_total", status="success")
        all_delta = total(now, "openai_api_requests_total") - total(before, "openai_api_requests_total")
        got = prom.query('sum(rate(openai_api_requests_total{status="success"}[5m])) / '
                         'sum(rate(openai_api_requests_total[5m])) * 100', DASH)
        assert math.isclose(list(got.values())[0], ok_delta / all_delta * 100, rel_tol=1e-9), (got, ok_delta, all_delta)

        got = prom.query("sum(rate(openai_api_tokens_total[5m]))", DASH)
        tokens = (total(now, "openai_api_tokens_total") - total(before, "openai_api_tokens_total")) / 300
        assert math.isclose(list(got.values())[0], tokens, rel_tol=1e-9), (got, tokens)

        delta = [a - b for a, b in zip(summed_buckets(now), summed_buckets(before))]
        got = prom.query("histogram_quantile(0.95, sum by (le) (rate(openai_api_request_duration_ms_bucket[5m])))",
                         DASH)
        assert math.isclose(list(got.values())[0], quantile(0.95, delta), rel_tol=1e-9), (got, delta)
    finally:
        prom.stop()


def test_replay_equals_serve():
    tmp = tempfile.mkdtemp(prefix="ailog-replay-")
    path = os.path.join(tmp, "app.log")
    expected = generate(path, path + ".json", "--flavour", "mixed", "--wrapper", "docker", "--seed", 31, "--lines",
                        8000, "--hostile", "--long-entries", "0.02")
    replayed = parse_exposition(replay("--output", "prometheus", "--correlation.max-age", "100000d",
                                       path).stdout.decode())
    with Exporter(["--start-at", "beginning", "--correlation.max-age", "100000d", path]) as e:
        served = e.wait_for_lines(expected["lines"])
    openai = lambda s: {k: v for k, v in s.items() if k[0].startswith("openai_")}
    assert openai(replayed) == openai(served)
    assert compare(replayed, expected) == []


def assert_threads_agree(thread_counts, args, paths, expected, what):
    """Replays `paths` with each --threads count (1 among them): every run
    equals the generator's figures, and every series equals --threads 1's."""
    runs = {}
    for threads in thread_counts:
        samples = parse_exposition(replay(*args, "--threads", threads, *paths).stdout.decode())
        problems = compare(samples, expected)
        assert not problems, f"{what}--threads {threads}:\n" + "\n".join(problems[:20])
        runs[threads] = {k: v for k, v in samples.items() if not k[0].startswith("process_")}
    for threads, samples in runs.items():
        assert samples == runs[1], f"{what}--threads {threads} differs from --threads 1"


def hostile_lines(tmp, seed, n):
    """The generator's figures and the lines (without newlines) of a mixed,
    hostile log of n lines written in `tmp`."""
    path = os.path.join(tmp, "all.log")
    expected = generate(path, path + ".json", "--flavour", "mixed", "--seed", seed, "--lines", n, "--hostile",
                        "--max-line-bytes", 4096)
    with open(path, "rb") as f:
        return expected, f.read().split(b"\n")[:-1]


def test_parallel_streams_equal_one_stream():
    """Several sets are decoded on threads shared between them (fewer, as
    many, or more than the sets) and merged by time: the same figures as the
    whole log read as one file, whatever the number of threads."""
    tmp = tempfile.mkdtemp(prefix="ailog-replay-")
    expected, lines = hostile_lines(tmp, 35, 30000)
    # Each call stays in one pod, the pods' lines interleave in time.
    pod_lines = deal_calls(lines, 4, staggered=False)
    pods = []
    for i in range(4):
        pods.append(os.path.join(tmp, f"pod{i}.log"))
        with open(pods[-1], "wb") as f:
            f.write(b"".join(pod_lines[i]))
    args = ["--output", "prometheus", "--correlation.max-age", "100000d", "--max-line-bytes", 4096]
    assert_threads_agree((1, 2, 3, 6, 0), args, pods, expected, "")


def test_many_files_few_open_at_once():
    """A history of 600 files that follow one another in time (pods that
    came and went) replays exactly with at most 64 descriptors: a file is
    opened when the merge reaches its first entry and closed at its end."""
    tmp = tempfile.mkdtemp(prefix="ailog-replay-")
    expected, lines = hostile_lines(tmp, 36, 12000)
    # A call's lines go to the file its start is in; files are slices of time.
    for k, content in enumerate(deal_calls(lines, 600, staggered=True)):
        pod = os.path.join(tmp, "pods", f"ns_pod-{k}_uid", "app")
        os.makedirs(pod)
        with open(os.path.join(pod, "0.log"), "wb") as f:
            f.write(b"".join(content))
    limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    for threads in (1, 2):
        r = subprocess.run([binary(), "replay", "--output", "prometheus", "--correlation.max-age", "100000d",
                            "--max-line-bytes", "4096", "--threads", str(threads),
                            os.path.join(tmp, "pods", "*", "*", "0.log")],
                           capture_output=True, timeout=300, preexec_fn=limit)
        assert r.returncode == 0, r.stderr.decode()
        samples = parse_exposition(r.stdout.decode())
        problems = compare(samples, expected)
        assert value(samples, "ailog_exporter_read_errors_total", default=0) == 0, "read errors"
        assert not problems, f"--threads {threads}:\n" + "\n".join(problems[:20])
    shutil.rmtree(tmp, ignore_errors=True)


def test_decoding_threads_change_nothing():
    """One set read on one thread and decoded on several gives every figure
    exactly as one thread does: plain lines, Docker and CRI with split and
    over-long entries, across a rotated set with .gz files."""
    for wrapper, seed in (("none", 41), ("docker", 42), ("cri", 43)):
        tmp = tempfile.mkdtemp(prefix="ailog-replay-")
        corpus = os.path.join(tmp, "corpus.log")
        expected = generate(corpus, corpus + ".json", "--flavour", "mixed", "--wrapper", wrapper, "--seed", seed,
                            "--lines", 20000, "--hostile", "--long-entries", "0.03", "--max-line-bytes", 8192)
        sets = os.path.join(tmp, "set")
        os.mkdir(sets)
        split_rotated(corpus, sets)
        args = ["--output", "prometheus", "--correlation.max-age", "100000d", "--max-line-bytes", 8192]
        assert_threads_agree((1, 2, 3, 0), args, [sets], expected, f"{wrapper}, ")


def test_summary_json_and_table():
    tmp = tempfile.mkdtemp(prefix="ailog-replay-")
    path = os.path.join(tmp, "app.log")
    expected = generate(path, path + ".json", "--flavour", "bunyan", "--seed", 41, "--lines", 5000, "--hostile",
                        "--max-line-bytes", 4096)
    m = expected["metrics"]
    args = ["--correlation.max-age", "100000d", "--max-line-bytes", 4096, path]
    s = json.loads(replay("--output", "json", *args).stdout)
    t = s["total"]
    assert t["requests"] == total(m, "openai_api_requests_total")
    assert t["successes"] == total(m, "openai_api_requests_total", status="success")
    assert t["tokens"]["input"] == total(m, "openai_api_tokens_total", type="input")
    assert t["tokens"]["output"] == total(m, "openai_api_tokens_total", type="output")
    assert math.isclose(t["duration"]["p95"], quantile(0.95, summed_buckets(m)), rel_tol=1e-12)
    assert s["lines"]["read"] == expected["lines"]
    assert s["lines"]["skipped"]["invalid_json"] == expected["skipped"]["invalid_json"]
    assert s["entries"] == sum(expected["entries"].values())
    rows = {(r["labels"]["capability"], r["labels"]["operation"]): r for r in s["rows"]}
    for series in m["openai_api_requests_total"]:
        key = (series["labels"]["capability"], series["labels"]["operation"])
        assert key in rows
    table = replay(*args).stdout.decode()
    assert "capability" in table and "p95 ms" in table and "TOTAL" in table and "histogram_quantile" in table
    assert f"{int(t['requests'])}" in table.split("TOTAL")[1].split("\n")[0]


def test_time_window():
    tmp = tempfile.mkdtemp(prefix="ailog-replay-")
    path = os.path.join(tmp, "app.log")
    frm, to = START_MS + 10 * 60 * 1000, START_MS + 20 * 60 * 1000
    expected = generate(path, path + ".json", "--seed", 51, "--lines", 20000, "--rate", 5, "--start", START,
                        "--checkpoint-at", frm, "--checkpoint-at", to)
    iso = lambda ms: subprocess.run(["date", "-u", "-d", f"@{ms // 1000}", "+%Y-%m-%dT%H:%M:%SZ"],
                                    capture_output=True, text=True).stdout.strip()
    out = parse_exposition(replay("--output", "prometheus", "--from", iso(frm), "--to", iso(to),
                                  "--correlation.max-age", "100000d", path).stdout.decode())
    got = sum(v for k, v in out.items() if k[0] == "openai_api_requests_total")
    want = total(expected["checkpoints"][str(to)], "openai_api_requests_total") - \
        total(expected["checkpoints"][str(frm)], "openai_api_requests_total")
    assert got == want > 0, (got, want)
    # Relative times: a window entirely in the future holds nothing.
    s = json.loads(replay("--output", "json", "--from", "-1h", path).stdout)
    assert s["entries"] == 0 and s["lines"]["outside_window"] > 0


def test_entries_without_timestamp_are_counted_and_skipped():
    tmp = tempfile.mkdtemp(prefix="ailog-replay-")
    path = os.path.join(tmp, "app.log")
    with open(path, "w") as f:
        f.write('{"message":"executeParse - succeeded","capability":"c","operation":"o","result":{"durationMs":5}}\n')
        f.write('{"message":"executeParse - succeeded","capability":"c","operation":"o","result":{"durationMs":5},'
                '"timestamp":"2025-06-01T00:00:00Z"}\n')
    s = json.loads(replay("--output", "json", path).stdout)
    assert s["lines"]["without_timestamp"] == 1 and s["total"]["requests"] == 1


def test_wrapper_time_stands_in_for_a_missing_timestamp():
    # An entry without a time of its own takes its Docker or CRI record's;
    # one with its own keeps it.
    succeeded = '{"message":"executeParse - succeeded","capability":"c","operation":"o","result":{"durationMs":5}'
    own = succeeded + ',"timestamp":"2025-06-01T09:00:00Z"}'
    escape = lambda payload: json.dumps(payload + "\n")
    wrapped = {
        "docker.log": [f'{{"log":{escape(succeeded + "}")},"stream":"stdout","time":"2025-06-01T10:00:00.5Z"}}',
                       f'{{"log":{escape(own)},"stream":"stdout","time":"2025-06-01T11:00:00Z"}}'],
        "cri.log": [f"2025-06-01T10:00:00.500000000Z stdout F {succeeded}}}",
                    f"2025-06-01T11:00:00.000000000Z stdout F {own}"],
    }
    tmp = tempfile.mkdtemp(prefix="ailog-replay-")
    for name, lines in wrapped.items():
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        s = json.loads(replay("--output", "json", path).stdout)
        assert s["entries"] == 2 and s["lines"]["without_timestamp"] == 0, (name, s)
        # The window runs from the earliest entry to the latest, whatever their order in the file.
        assert s["window"] == {"first": "2025-06-01T09:00:00Z", "last": "2025-06-01T10:00:00Z"}, (name, s["window"])


def test_progress_bar_only_on_a_terminal():
    tmp = tempfile.mkdtemp(prefix="ailog-replay-")
    path = os.path.join(tmp, "app.log")
    generate(path, path + ".json", "--seed", 61, "--lines", 3000)
    r = replay("--output", "summary", path)
    assert r.stderr == b"", r.stderr
    master, slave = pty.openpty()
    p = subprocess.Popen([binary(), "replay", "-o", os.devnull, path], stderr=slave, stdout=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    assert p.wait(timeout=60) == 0
    assert b"100.0%" in out and b"MB/s" in out, out
    p = subprocess.run([binary(), "replay", "--quiet", "-o", os.devnull, path], capture_output=True)
    assert p.stderr == b""


def test_bad_arguments_exit_2():
    for args in (["--output", "xml", "x"], ["--from", "yesterday", "x"], ["--step", "0s", "x"], ["/nonexistent"]):
        r = replay(*args, check=False)
        assert r.returncode == 2, (args, r.returncode, r.stderr)


def peak_threads(args):
    """Runs replay with `args` and returns the most threads /proc showed it
    running at once (polled until it exits)."""
    p = subprocess.Popen([binary(), "replay"] + [str(a) for a in args], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    peak = 0
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    if line.startswith("Threads:"):
                        peak = max(peak, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError):
            break
    _, err = p.communicate()
    assert p.returncode == 0, err.decode()
    return peak


def test_threads_as_documented():
    """--threads N: several files are decoded by N threads in all, the
    merging one included; one file has N decoders beside its reader and the
    calling thread (N + 2); 1 keeps everything on one thread."""
    tmp = tempfile.mkdtemp(prefix="ailog-replay-")
    samples = b"".join(open(p, "rb").read() for p in sorted(glob.glob(os.path.join(ROOT, "samples", "*.log"))))
    one = os.path.join(tmp, "one.log")
    with open(one, "wb") as f:
        f.write(samples * max(1, 120_000_000 // len(samples)))  # long enough to be seen running
    several = []
    for i in range(3):
        several.append(os.path.join(tmp, f"pod{i}.log"))
        shutil.copyfile(one, several[-1])
    args = ["-q", "--output", "prometheus", "--correlation.max-age", "100000d"]
    assert peak_threads(args + ["--threads", 1, one]) == 1
    assert peak_threads(args + ["--threads", 3, one]) == 3 + 2
    assert peak_threads(args + ["--threads", 3] + several) == 3
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_tests([test_backfill_through_promtool_and_prometheus, test_replay_equals_serve, test_decoding_threads_change_nothing,
               test_parallel_streams_equal_one_stream,
               test_many_files_few_open_at_once, test_summary_json_and_table,
               test_time_window, test_entries_without_timestamp_are_counted_and_skipped,
               test_wrapper_time_stands_in_for_a_missing_timestamp,
               test_progress_bar_only_on_a_terminal, test_bad_arguments_exit_2, test_threads_as_documented])
