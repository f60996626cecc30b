"""examples/fastify.yml against what real Fastify writes.

tests/fixtures/fastify/ holds the default request log of two Fastify 4
processes (app-1.log.gz, app-2.log.gz, each numbering its requests from
req-1) for a seeded mix of requests: ids of digits, UUIDs and long hex, query
strings, answers 200, 201, 204, 400 (schema validation), 401, 404 (no route,
or no such method), 409 and 500 (handlers that throw, logged with `err`), an
onResponse hook that fails ("request errored" in place of "request
completed"), and error messages that begin like Fastify's own request
messages. truth.json holds what the client sent and got back, and seed 003's
prom-client figures from each process; record.mjs records them.

Checked, series by series:
- check-config accepts the mapping and lists its three metrics;
- the recording is consistent: the requests paired from the logs here (start
  and end by reqId, per file) are the client's, process by process;
- replay of the two logs gives http_requests_total equal to the client's
  counts by method, route and status code, with no other series;
- serve, tailing a directory while both logs are appended batch by batch,
  holds the open requests in http_requests_in_flight at every idle moment and
  ends with the same counts; in both, every http_request_duration_seconds
  series has _count equal to the counter, each cumulative bucket equal to the
  number of its requests whose responseTime / 1000 is at most le, and _sum
  their sum, computed here from the log lines;
- the exporter's own counters: every line read, each request one entry of
  each of its two kinds, every other line skipped as not_matched, no end
  without its start, nothing evicted, nothing in flight at the end;
- seed 003's plugin (prom-client) agrees where the two are comparable. Both
  count every request once, so the totals by method and status code are
  equal. Their route labels differ in two ways: the plugin's route is the
  matched route's pattern, whose parameter names are the application's own
  (/files/:hash where the exporter, which sees only the URL, writes
  /files/:id); and with no route matched (404) the plugin takes the raw URL,
  ids and query string included (/users/7/avatar?size=64, a series per URL),
  where the exporter normalises it (/users/:id/avatar). With parameter names
  read as :id and raw URLs normalised, the plugin's series are the
  exporter's, count for count. Its durations (hrtime between its own
  onRequest and onResponse hooks) are not Fastify's responseTime, so only
  their counts are compared. Registered as seed 003 registers it
  (app.register() without fastify-plugin), the plugin's hooks are
  encapsulated in its own context and count only GET /metrics: that is
  checked too.

With AILOG_RECORD_LOGGERS=1 and node (18 or later) and npm installed, Fastify
runs now (npm ci, node record.mjs) and the fresh recording is checked the
same way."""

import gzip
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter

from harness import ROOT, Exporter, binary, parse_exposition, run_tests, series_of, show_series, value, wait_until

FIXTURES = os.path.join(ROOT, "tests", "fixtures", "fastify")
MAPPING = os.path.join(ROOT, "examples", "fastify.yml")
PROCESSES = ("app-1", "app-2")
COUNTER = "http_requests_total"
HISTOGRAM = "http_request_duration_seconds"
IN_FLIGHT = "http_requests_in_flight"
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10)
LES = ("0.05", "0.1", "0.25", "0.5", "1", "2", "5", "10", "+Inf")
KINDS = ("incoming", "completed", "errored")
BATCHES = 4          # serve: each log is appended in this many batches
IDLE_S = 1.5         # between batches, longer than the exporter's 1 s idle wake-up
MIN_NODE = 18

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
HEX = re.compile(r"[0-9a-f]{16,}", re.I)


def route_of(url):
    """The route label examples/fastify.yml is to give a URL, segment by
    segment: the query string dropped, id-like segments as :id."""
    def id_like(s):
        return s.isdigit() or UUID.fullmatch(s) or HEX.fullmatch(s)
    return "/".join(":id" if id_like(s) else s for s in url.split("?", 1)[0].split("/"))


# ---------------------------------------------------------------------------
# The recording

def read_log(path):
    """A log's lines as Fastify wrote them (bytes, with their newlines), from
    path.gz or path."""
    if os.path.exists(path + ".gz"):
        with gzip.open(path + ".gz", "rb") as f:
            return f.read().splitlines(keepends=True)
    with open(path, "rb") as f:
        return f.read().splitlines(keepends=True)


def kind_of(obj):
    """Which of Fastify's request lines obj is: "incoming" (the start),
    "completed" or "errored" (the end), or None for any other line (the
    server's, a handler's error, a 404's "Route ... not found")."""
    msg = obj.get("msg")
    if msg == "incoming request" and "req" in obj and "res" not in obj:
        return "incoming"
    if msg in ("request completed", "request errored") and "responseTime" in obj:
        return msg.split()[1]
    return None


class Log:
    """One process's log, its requests paired here: each start with the end
    of the same reqId."""

    def __init__(self, name, lines):
        self.name = name
        self.lines = lines
        self.events = []    # per line: None, ("start", reqId, method) or ("end", reqId)
        self.requests = []  # (method, route, status code, responseTime in ms), in the order they ended
        self.kinds = Counter()
        open_requests = {}
        for line in lines:
            obj = json.loads(line)
            kind = kind_of(obj)
            self.kinds[kind] += 1
            if kind == "incoming":
                assert obj["reqId"] not in open_requests, f"{name}: {obj['reqId']} started twice"
                open_requests[obj["reqId"]] = obj["req"]
                self.events.append(("start", obj["reqId"], obj["req"]["method"]))
            elif kind is not None:
                req = open_requests.pop(obj["reqId"], None)
                assert req is not None, f"{name}: {obj['reqId']} ended without its start"
                self.requests.append((req["method"], route_of(req["url"]), str(obj["res"]["statusCode"]),
                                      obj["responseTime"]))
                self.events.append(("end", obj["reqId"]))
            else:
                self.events.append(None)
        assert not open_requests, f"{name}: requests never answered: {sorted(open_requests)}"

    def counts(self):
        return Counter((m, r, s) for m, r, s, _ in self.requests)

    def open_methods(self, n):
        """{method: requests started and not ended} after the first n lines."""
        started = {}
        for event in self.events[:n]:
            if event and event[0] == "start":
                started[event[1]] = event[2]
            elif event:
                started.pop(event[1])
        return Counter(started.values())

    def cuts(self, n):
        """n - 1 line counts that split the log into n batches, each where a
        request is in flight (its start before the cut, its end after)."""
        cuts = []
        for i in range(1, n):
            cut = max(len(self.lines) * i // n, cuts[-1] + 1 if cuts else 1)
            while cut < len(self.lines) - 1 and not self.open_methods(cut):
                cut += 1
            cuts.append(cut)
        return cuts


def client_counts(rows):
    return Counter({(r["method"], r["route"], r["status_code"]): r["count"] for r in rows})


class Recording:
    def __init__(self, directory):
        self.directory = directory
        self.logs = [Log(name, read_log(os.path.join(directory, f"{name}.log"))) for name in PROCESSES]
        with open(os.path.join(directory, "truth.json")) as f:
            self.truth = json.load(f)
        self.client = client_counts(self.truth["client"]["total"])
        self.requests = [r for log in self.logs for r in log.requests]
        self.lines = sum(len(log.lines) for log in self.logs)
        self.kinds = sum((log.kinds for log in self.logs), Counter())

    def log_paths(self):
        paths = [os.path.join(self.directory, f"{name}.log") for name in PROCESSES]
        return [p + ".gz" if os.path.exists(p + ".gz") else p for p in paths]

    def histograms(self):
        """{(method, route, status code): (count, sum, [cumulative buckets])}
        of the log's requests, durations responseTime / 1000."""
        durations = {}
        for m, r, s, ms in self.requests:
            durations.setdefault((m, r, s), []).append(ms / 1000)
        return {key: (len(ds), sum(ds), [sum(d <= b for d in ds) for b in BUCKETS] + [len(ds)])
                for key, ds in durations.items()}

    def prom_client(self, registration, name):
        """{(method, route, status code): value} of one metric of seed 003's
        plugin, summed over the processes."""
        out = Counter()
        for figures in self.truth["prom_client"].values():
            for f in figures[registration]:
                if f["name"] == name:
                    labels = f["labels"]
                    out[(labels["method"], labels["route"], str(labels["status_code"]))] += f["value"]
        return out


def labels_of(key):
    return frozenset(zip(("method", "route", "status_code"), key))


# ---------------------------------------------------------------------------
# Checks

def recording_problems(rec):
    """The recording against itself: the requests paired from each log are
    the client's; it holds what the mapping must cope with."""
    problems = []
    for log in rec.logs:
        want = client_counts(rec.truth["client"]["by_process"][log.name])
        if log.counts() != want:
            problems.append(f"{log.name}: the log's requests differ from the client's: log has "
                            f"{dict(log.counts() - want)} more, client {dict(want - log.counts())} more")
        first = next((e for e in log.events if e), None)
        if first is None or first[1] != "req-1":
            problems.append(f"{log.name}: the first request is {first and first[1]}, not req-1")
    if sum(rec.client.values()) != len(rec.requests):
        problems.append(f"the client made {sum(rec.client.values())} requests, the logs hold {len(rec.requests)}")
    # responseTime / 1000 and responseTime * 0.001 may differ in the last
    # bit: no duration may be that close to a bound.
    for m, r, s, ms in rec.requests:
        if any(abs(ms - b * 1000) < 1e-6 for b in BUCKETS):
            problems.append(f"{m} {r} {s}: responseTime {ms!r} ms is on a bucket bound")
    filled = Counter(next((le for le, b in zip(LES, BUCKETS) if ms / 1000 <= b), "+Inf")
                     for _, _, _, ms in rec.requests)
    if len(filled) < 5:
        problems.append(f"durations fill only the buckets {dict(filled)}")
    statuses = {s for _, _, s, _ in rec.requests}
    for want in ("200", "400", "401", "404", "500"):
        if want not in statuses:
            problems.append(f"no request answered {want}")
    if not rec.kinds["errored"]:
        problems.append("no \"request errored\" line")
    others = [json.loads(line) for log in rec.logs for line in log.lines if kind_of(json.loads(line)) is None]
    for what, found in (("a 5xx error line with err and req",
                         lambda o: o.get("level") == 50 and "err" in o and "req" in o),
                        ("a 4xx error line with err", lambda o: o.get("level") == 30 and "err" in o),
                        ("a 404's \"Route ... not found\"", lambda o: str(o.get("msg")).startswith("Route ")),
                        ("an error message beginning \"incoming request \"",
                         lambda o: str(o.get("msg")).startswith("incoming request ")),
                        ("an error message beginning \"request completed \"",
                         lambda o: str(o.get("msg")).startswith("request completed "))):
        if not any(found(o) for o in others):
            problems.append(f"no {what}")
    return problems


def samples_problems(samples, rec):
    """A final scrape (or replay's final values) against the log and the client."""
    problems = []
    want = rec.client
    got = series_of(samples, COUNTER)
    for labels in sorted(set(got) | {labels_of(k) for k in want}, key=sorted):
        key = tuple(dict(labels)[n] for n in ("method", "route", "status_code"))
        have, should = got.get(labels), want.get(key)
        if have != should:
            problems.append(f"{show_series(COUNTER, labels)}: exporter "
                            f"{'none' if have is None else f'{have:g}'}, client {should or 'none'}")

    histograms = rec.histograms()
    names = {HISTOGRAM + "_count", HISTOGRAM + "_sum", HISTOGRAM + "_bucket"}
    label_sets = {frozenset((k, v) for k, v in labels if k != "le") for name, labels in samples if name in names}
    for labels in sorted(label_sets | {labels_of(k) for k in histograms}, key=sorted):
        key = tuple(dict(labels)[n] for n in ("method", "route", "status_code"))
        should = histograms.get(key)
        count = samples.get((HISTOGRAM + "_count", labels))
        total = samples.get((HISTOGRAM + "_sum", labels))
        buckets = [samples.get((HISTOGRAM + "_bucket", labels | {("le", le)})) for le in LES]
        counted = got.get(labels)
        if should is None:
            problems.append(f"unexpected {show_series(HISTOGRAM, labels)}: the log has no such requests")
            continue
        if count != counted:
            problems.append(f"{show_series(HISTOGRAM + '_count', labels)} = {count}, {COUNTER} = {counted}")
        if (count, buckets) != (should[0], should[2]) or total is None \
                or not math.isclose(total, should[1], rel_tol=1e-9, abs_tol=1e-12):
            problems.append(f"{show_series(HISTOGRAM, labels)}: exporter count {count}, sum {total}, buckets "
                            f"{buckets}; the log: count {should[0]}, sum {should[1]!r}, buckets {should[2]}")

    def want_self(name, should, **labels):
        have = value(samples, name, default=None, **labels)
        if have != should:
            problems.append(f"{show_series(name, labels)} = {have}, want {should}")

    want_self("ailog_exporter_lines_read_total", rec.lines)
    for kind in KINDS:
        want_self("ailog_exporter_entries_total", rec.kinds[kind], kind=kind)
    for labels, v in series_of(samples, "ailog_exporter_lines_skipped_total", required=True).items():
        should = rec.kinds[None] if dict(labels)["reason"] == "not_matched" else 0
        if v != should:
            problems.append(f"{show_series('ailog_exporter_lines_skipped_total', labels)} = {v:g}, want {should}")
    for metric in ("ailog_exporter_unmatched_entries_total", "ailog_exporter_correlation_evicted_total",
                   "ailog_exporter_correlation_open_entries", "ailog_exporter_invalid_timestamps_total",
                   "ailog_exporter_label_overflow_total", "ailog_exporter_series_dropped_total", IN_FLIGHT):
        for labels, v in series_of(samples, metric, required=True).items():
            if v != 0:
                problems.append(f"{show_series(metric, labels)} = {v:g}, want 0")
    methods = {dict(labels)["method"] for labels in series_of(samples, IN_FLIGHT)}
    if methods != {m for m, _, _ in rec.client}:
        problems.append(f"{IN_FLIGHT} has series for {sorted(methods)}, the client used "
                        f"{sorted({m for m, _, _ in rec.client})}")
    want_self("ailog_exporter_entries_without_timestamp_total", 0)
    want_self("ailog_exporter_negative_durations_total", 0)
    return problems


def prom_client_problems(samples, rec):
    """The exporter's final values against seed 003's plugin (see the module
    docstring for where and why they differ)."""
    problems = []
    counter = {tuple(dict(labels)[n] for n in ("method", "route", "status_code")): v
               for labels, v in series_of(samples, COUNTER).items()}
    histogram_count = {tuple(dict(labels)[n] for n in ("method", "route", "status_code")): v
                       for labels, v in series_of(samples, HISTOGRAM + "_count").items()}
    plugin = rec.prom_client("global", COUNTER)
    plugin_count = rec.prom_client("global", HISTOGRAM + "_count")

    def by_method_status(series):
        out = Counter()
        for (m, _, s), v in series.items():
            out[(m, s)] += v
        return out

    if by_method_status(counter) != by_method_status(plugin):
        problems.append(f"by method and status code: exporter {dict(by_method_status(counter))}, "
                        f"prom-client {dict(by_method_status(plugin))}")
    if plugin_count != plugin:
        problems.append(f"prom-client's {HISTOGRAM}_count differs from its {COUNTER}")

    # The plugin's routes as the exporter writes them: parameter names read
    # as :id, a raw URL (no route matched) normalised.
    def as_exporter(route):
        return re.sub(r"/:[^/]+", "/:id", route) if "/:" in route else route_of(route)

    same, renamed, raw = 0, 0, 0
    for name, series, plugin_series in ((COUNTER, counter, plugin),
                                        (HISTOGRAM + "_count", histogram_count, plugin_count)):
        normalised = Counter()
        for (m, route, s), v in plugin_series.items():
            normalised[(m, as_exporter(route), s)] += v
            if name == COUNTER:
                if series.get((m, route, s)) == v:
                    same += 1
                elif "/:" in route:
                    renamed += 1
                else:
                    raw += 1
        if normalised != Counter(series):
            problems.append(f"{name}, prom-client's routes normalised: exporter {dict(series)}, "
                            f"prom-client {dict(normalised)}")
    # Both kinds of difference occur, and a route the plugin gives as the
    # exporter does is counted the same.
    if not (same and renamed and raw):
        problems.append(f"prom-client series equal to the exporter's: {same}, with other parameter names: "
                        f"{renamed}, raw URLs: {raw}; the recording should hold all three")

    # Registered as seed 003 does, the plugin sees its own route alone.
    as_written = rec.prom_client("as_written", COUNTER)
    metrics_route = Counter({k: v for k, v in rec.client.items() if k[1] == "/metrics"})
    if as_written != metrics_route or not metrics_route:
        problems.append(f"seed 003's plugin as registered counts {dict(as_written)}, the client's GET /metrics "
                        f"{dict(metrics_route)}")
    return problems


def report(problems_by_run):
    failed = {run: p for run, p in problems_by_run.items() if p}
    return "\n".join(f"{run}: {len(p)} problem(s)\n  " + "\n  ".join(p[:40]) for run, p in failed.items())


# ---------------------------------------------------------------------------
# The exporter

def replay_samples(paths):
    r = subprocess.run([binary(), "replay", "--config.file", MAPPING, "--output", "prometheus", "--quiet"] + paths,
                       capture_output=True, timeout=120)
    assert r.returncode == 0, f"replay {' '.join(paths)}: exit {r.returncode}: {r.stderr.decode()[-2000:]}"
    return parse_exposition(r.stdout.decode())


def replay_problems(rec):
    samples = replay_samples(rec.log_paths())
    return {"recording": recording_problems(rec), "replay": samples_problems(samples, rec),
            "replay against prom-client": prom_client_problems(samples, rec)}


def serve_problems(rec):
    """Tails a directory holding both logs while they are appended, a batch of
    each at a time, the exporter idle between batches with requests in
    flight; the in-flight gauge must hold them through every idle moment, and
    the final scrape equal the client's and the log's figures."""
    problems = []
    tmp = tempfile.mkdtemp(prefix="ailog-fastify-")
    paths = [os.path.join(tmp, f"{log.name}.log") for log in rec.logs]
    for path in paths:
        open(path, "wb").close()
    bounds = [[0] + log.cuts(BATCHES) + [len(log.lines)] for log in rec.logs]
    try:
        with Exporter(["--config.file", MAPPING, "--start-at", "beginning", tmp]) as e:
            wait_until(lambda: e.get("/-/ready")[0] == 200, what="ready")
            written = 0
            for i in range(BATCHES):
                for log, path, b in zip(rec.logs, paths, bounds):
                    with open(path, "ab") as f:
                        f.write(b"".join(log.lines[b[i]:b[i + 1]]))
                    written += b[i + 1] - b[i]
                samples = e.wait_for_lines(written)
                if i == BATCHES - 1:
                    problems += samples_problems(samples, rec)
                    problems += prom_client_problems(samples, rec)
                    break
                time.sleep(IDLE_S)
                samples = e.samples()
                want = sum((log.open_methods(b[i + 1]) for log, b in zip(rec.logs, bounds)), Counter())
                have = {dict(labels)["method"]: n for labels, n in series_of(samples, IN_FLIGHT).items() if n}
                if not want or have != dict(want):
                    problems.append(f"after batch {i + 1} and {IDLE_S} s idle: in flight {have}, "
                                    f"the logs have {dict(want)} open")
                for metric in ("ailog_exporter_correlation_evicted_total", "ailog_exporter_unmatched_entries_total"):
                    for labels, n in series_of(samples, metric, required=True).items():
                        if n:
                            problems.append(f"after batch {i + 1}: {show_series(metric, labels)} = {n:g}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return problems


# ---------------------------------------------------------------------------
# Tests

def test_check_config():
    r = subprocess.run([binary(), "check-config", MAPPING], capture_output=True, timeout=30)
    assert r.returncode == 0, f"check-config: exit {r.returncode}: {r.stderr.decode()}{r.stdout.decode()}"
    listed = {line.split()[0]: line.split()[1:3] for line in r.stdout.decode().splitlines() if line.startswith("http_")}
    want = {COUNTER: ["counter", "labels=[method,route,status_code]"],
            HISTOGRAM: ["histogram", "labels=[method,route,status_code]"],
            IN_FLIGHT: ["gauge", "labels=[method]"]}
    assert listed == want, f"check-config lists {listed}"


def test_replay():
    problems = replay_problems(Recording(FIXTURES))
    assert not any(problems.values()), "\n" + report(problems)


def test_serve_tailing():
    problems = {"serve": serve_problems(Recording(FIXTURES))}
    assert not any(problems.values()), "\n" + report(problems)


def node_major():
    r = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30)
    m = re.match(r"v(\d+)\.", r.stdout.strip())
    return int(m.group(1)) if r.returncode == 0 and m else 0


def test_recorded_afresh():
    """Fastify and prom-client run now (npm ci, node record.mjs); the fresh
    recording is replayed and served against its fresh truth."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if os.environ.get("AILOG_RECORD_LOGGERS") != "1" or missing:
        print("skipped test_recorded_afresh: it runs with AILOG_RECORD_LOGGERS=1 and node and npm installed"
              + (f" ({', '.join(missing)} not found)" if missing else ""), flush=True)
        return
    if node_major() < MIN_NODE:
        print(f"skipped test_recorded_afresh: Fastify 4 needs Node.js {MIN_NODE} or later, "
              f"node is v{node_major()}", flush=True)
        return
    tmp = tempfile.mkdtemp(prefix="ailog-record-")
    try:
        for name in ("package.json", "package-lock.json", "record.mjs"):
            shutil.copy(os.path.join(FIXTURES, name), tmp)
        for cmd in (["npm", "ci", "--no-audit", "--no-fund"], ["node", "record.mjs", "out"]):
            r = subprocess.run(cmd, cwd=tmp, capture_output=True, timeout=240)
            assert r.returncode == 0, f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.decode()[-3000:]}"
        rec = Recording(os.path.join(tmp, "out"))
        problems = replay_problems(rec)
        problems["serve"] = serve_problems(rec)
        assert not any(problems.values()), "\n" + report(problems)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_tests([test_check_config, test_replay, test_serve_tailing, test_recorded_afresh])
