"""One file of two mappings: seed 000's model calls (examples/executeparse.yml,
as it is) and Fastify's request log (pino's `incoming request` and `request
completed`, tied by reqId, each process numbering from req-1), written to the
same log. Served live, replayed on one and on two threads, restarted from a
state file that holds open starts of both, and reloaded with the HTTP mapping
renamed and then removed: every series equals the generators' figures,
bucket by bucket, and so do the exporter's own counts."""

import json
import math
import os
import random
import re
import signal
import subprocess
import tempfile

from harness import (Exporter, binary, compare, differences, generate, parse_exposition, run_tests, series_of, value,
                     wait_until)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXECUTEPARSE = os.path.join(ROOT, "examples", "executeparse.yml")

HTTP_MAPPING = r"""
  http:
    message: msg
    time: {path: time, format: epoch_ms}
    fields:
      reqId: {path: reqId, type: string, required: [incoming, completed]}
      method: {path: req.method, type: string}
      url: {path: req.url, type: string}
      status: {path: res.statusCode, type: number}
      responseTime: {path: responseTime, type: number, non_negative: true}
    entries:
      incoming: {message: incoming request, role: start}
      completed: {message: request completed, role: end, outcome: done}
    metrics:
      - name: http_requests_total
        help: HTTP requests answered
        type: counter
        labels: [method, route, status_code]
        updates:
          - entries: [completed]
            labels:
              method: {field: method, default: unknown}
              route:
                field: url
                default: unknown
                replace:
                  - {pattern: '\?.*$', with: ''}
                  - {pattern: '/[0-9]+', with: '/:id'}
              status_code: {field: status, default: unknown}
            value: 1
      - name: http_request_duration_seconds
        help: Time to answer HTTP requests
        type: histogram
        labels: [method, route]
        buckets: [0.05, 0.1, 0.5, 1, 5, 10]
        updates:
          - entries: [completed]
            labels:
              method: {field: method, default: unknown}
              route:
                field: url
                default: unknown
                replace:
                  - {pattern: '\?.*$', with: ''}
                  - {pattern: '/[0-9]+', with: '/:id'}
            value: {field: responseTime, factor: 0.001}
      - name: http_requests_in_flight
        help: HTTP requests received and not yet answered
        type: gauge
        labels: [method]
    correlation:
      key: reqId
      from_start: [method, url]
      in_flight:
        metric: http_requests_in_flight
        labels: {method: {field: method}}
"""

# A third mapping takes the same lines as the HTTP one: a line can be an
# entry of two mappings, and a level label travels between replay's threads.
LEVELS_MAPPING = r"""
  levels:
    message: msg
    time: {path: time, format: epoch_ms}
    fields:
      text: {path: msg, type: string}
      level: {path: level, type: level}
    entries:
      http_line:
        when:
          - {field: text, one_of: [incoming request, request completed]}
    metrics:
      - name: http_log_lines_total
        help: Lines of the HTTP log by level
        type: counter
        labels: [level]
        updates:
          - entries: [http_line]
            labels: {level: {field: level}}
            value: 1
"""

HTTP_METRICS = ("http_requests_total", "http_request_duration_seconds", "http_requests_in_flight",
                "http_log_lines_total")
PINO_LEVELS = {30: "info", 50: "error"}
BUCKETS = [0.05, 0.1, 0.5, 1, 5, 10]
URLS = ["/users/{}", "/users/{}/orders/{}?expand=items", "/health", "/v1/chat?stream=false", "/nope/{}"]
METHODS = ["GET", "POST", "PUT", "DELETE"]
STATUSES = [200, 200, 200, 201, 400, 401, 404, 500]


def config(http_name="http", levels=True):
    """examples/executeparse.yml as the mapping `calls`, the HTTP mapping as
    `http_name` (None: left out) and the levels mapping."""
    with open(EXECUTEPARSE) as f:
        calls = "".join("    " + line if line.strip() else line for line in f)
    text = "mappings:\n  calls:\n" + calls
    if http_name:
        text += HTTP_MAPPING.replace("\n  http:\n", f"\n  {http_name}:\n", 1)
    if levels:
        text += LEVELS_MAPPING
    return text


def route_of(url):
    return re.sub(r"/[0-9]+", "/:id", re.sub(r"\?.*$", "", url))


def http_log(pid, requests, rng, t_ms):
    """Fastify's default request log of one process: (line, event) pairs,
    event ("start", id, method, url) or ("end", id, status, response_ms)."""
    out, open_ids = [], []

    def emit(obj, event):
        out.append((json.dumps(obj, separators=(",", ":")), event))

    for n in range(1, requests + 1):
        t_ms += rng.randint(1, 40)
        rid = f"req-{n}"
        method = rng.choice(METHODS)
        url = rng.choice(URLS).format(rng.randint(1, 10 ** 6), rng.randint(1, 99))
        emit({"level": 30, "time": t_ms, "pid": pid, "hostname": "web-1", "reqId": rid,
              "req": {"method": method, "url": url, "hostname": "127.0.0.1:3000", "remoteAddress": "127.0.0.1",
                      "remotePort": rng.randint(30000, 60000)}, "msg": "incoming request"},
             ("start", rid, method, url))
        open_ids.append(rid)
        while open_ids and rng.random() < 0.55:
            done = open_ids.pop(rng.randrange(len(open_ids)))
            t_ms += rng.randint(0, 20)
            status = rng.choice(STATUSES)
            ms = rng.choice([round(rng.uniform(0.1, 80), 6), round(rng.uniform(0, 12000), 3), 50, 100, 1000])
            entry = {"level": 50 if status >= 500 else 30, "time": t_ms, "pid": pid, "hostname": "web-1",
                     "reqId": done, "res": {"statusCode": status}, "responseTime": ms, "msg": "request completed"}
            if status == 500:
                entry["err"] = {"type": "Error", "message": "boom", "stack": "Error: boom\n    at handler"}
            emit(entry, ("end", done, status, ms))
        if rng.random() < 0.02:  # an answer whose request was logged by a process before this one
            emit({"level": 30, "time": t_ms, "pid": pid, "reqId": f"old-{n}", "res": {"statusCode": 200},
                  "responseTime": 3.5, "msg": "request completed"}, ("end", f"old-{n}", 200, 3.5))
    return out


class HttpTruth:
    """The HTTP mapping's figures, computed from the events in the order one
    input is read; forget() is a reload that drops the open starts."""

    def __init__(self):
        self.series = {}
        self.gauge = {}  # method -> value, a series made by a start
        self.entries = {"incoming": 0, "completed": 0}
        self.unmatched = 0

    def add(self, name, labels, v):
        key = (name, frozenset(labels.items()))
        self.series[key] = self.series.get(key, 0) + v

    def read(self, events, open_starts):
        for e in events:
            if e[0] == "start":
                _, rid, method, url = e
                self.entries["incoming"] += 1
                open_starts[rid] = (method, url)
                self.gauge[method] = self.gauge.get(method, 0) + 1
                continue
            _, rid, status, ms = e
            self.entries["completed"] += 1
            start = open_starts.pop(rid, None)
            if start is None:
                self.unmatched += 1
                method, route = "unknown", "unknown"
            else:
                method, route = start[0], route_of(start[1])
                self.gauge[method] -= 1
            self.add("http_requests_total", {"method": method, "route": route, "status_code": str(status)}, 1)
            v = ms * 0.001
            labels = {"method": method, "route": route}
            for le in BUCKETS + [math.inf]:
                if v <= le:
                    self.add("http_request_duration_seconds_bucket",
                             dict(labels, le="+Inf" if le == math.inf else f"{le:g}"), 1)
            self.add("http_request_duration_seconds_sum", labels, v)
            self.add("http_request_duration_seconds_count", labels, 1)

    def forget(self, open_starts_by_input):
        """A reload under another name: open starts and the gauge's series go."""
        for o in open_starts_by_input:
            o.clear()
        self.gauge = {}

    def figures(self):
        out = dict(self.series)
        for method, v in self.gauge.items():
            out[("http_requests_in_flight", frozenset({"method": method}.items()))] = v
        return out


def http_differences(samples, want):
    return differences({k: v for k, v in samples.items() if k[0].startswith(HTTP_METRICS)}, want)


class Log:
    """Two inputs: app.log holds the model calls of the corpus generator with
    the requests of Fastify process 1 between them; web-2.log the requests
    of process 2, which numbers its reqIds from req-1 again."""

    def __init__(self, tmp, seed):
        rng = random.Random(seed)
        corpus = os.path.join(tmp, "corpus.log")
        self.expected = generate(corpus, corpus + ".json", "--flavour", "mixed", "--wrapper", "none", "--lines",
                                 4000, "--noise", 0.2, "--seed", seed)
        with open(corpus, "rb") as f:
            calls = [(line, None) for line in f.read().decode().splitlines()]
        t0 = 1748779200000
        web1 = http_log(101, 1500, rng, t0)
        web2 = http_log(202, 800, rng, t0)
        # Interleaved at random, each in its own order.
        merged, i, j = [], 0, 0
        while i < len(calls) or j < len(web1):
            if j == len(web1) or (i < len(calls) and rng.random() < len(calls) / (len(calls) + len(web1))):
                merged.append(calls[i])
                i += 1
            else:
                merged.append(web1[j])
                j += 1
        self.inputs = {"app.log": merged, "web-2.log": web2}
        self.http_lines = len(web1) + len(web2)
        self.http_bytes = sum(len(line) + 1 for line, _ in web1 + web2)

    def lines(self):
        return sum(len(v) for v in self.inputs.values())

    def write(self, directory, upto=None):
        """Appends each input's lines up to the fraction `upto` of it (all
        when None) that are not yet in the file; returns the lines written
        in all."""
        for name, lines in self.inputs.items():
            path = os.path.join(directory, name)
            have = 0
            if os.path.exists(path):
                with open(path, "rb") as f:
                    have = f.read().count(b"\n")
            end = len(lines) if upto is None else int(len(lines) * upto)
            with open(path, "a") as f:
                f.write("".join(line + "\n" for line, _ in lines[have:end]))
        return sum(self._written(directory, n) for n in self.inputs)

    @staticmethod
    def _written(directory, name):
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            return 0
        with open(path, "rb") as f:
            return f.read().count(b"\n")

    def events(self, name, start, end):
        lines = self.inputs[name]
        return [e for _, e in lines[int(len(lines) * start):int(len(lines) * end)] if e is not None]

    def truth(self, end=1.0, cuts=(), names=None):
        """The HTTP figures of each input read in order up to the fraction
        `end`, with a reload that forgets the open starts at each fraction
        in `cuts`."""
        t = HttpTruth()
        names = list(self.inputs) if names is None else names
        open_starts = {name: {} for name in names}
        bounds = [0.0] + list(cuts) + [end]
        for k in range(len(bounds) - 1):
            if k:
                t.forget(open_starts.values())
            for name in names:
                t.read(self.events(name, bounds[k], bounds[k + 1]), open_starts[name])
        return t

    def whole_expected(self):
        """The generator's figures with the HTTP lines and entries added."""
        e = json.loads(json.dumps(self.expected))
        t = self.truth()
        e["lines"] += self.http_lines
        e["bytes"] += self.http_bytes
        e["entries"].update(t.entries)
        e["entries"]["http_line"] = self.http_lines
        if t.unmatched:
            e["unmatched"]["completed"] = t.unmatched
        return e, t

    def figures(self, names=None):
        """The HTTP and levels mappings' figures of the whole log (of the inputs `names`)."""
        names = list(self.inputs) if names is None else names
        out = self.truth(names=names).figures()
        for lines in (self.inputs[n] for n in names):
            for line, event in lines:
                if event is not None:
                    key = ("http_log_lines_total", frozenset({"level": PINO_LEVELS[json.loads(line)["level"]]}.items()))
                    out[key] = out.get(key, 0) + 1
        return out


def write_config(path, text):
    with open(path, "w") as f:
        f.write(text)


def all_problems(samples, log):
    expected, _ = log.whole_expected()
    return compare(samples, expected) + http_differences(samples, log.figures())


def test_served_live_equals_both_generators():
    with tempfile.TemporaryDirectory() as tmp:
        log = Log(tmp, 21)
        logs = os.path.join(tmp, "logs")
        os.mkdir(logs)
        cfg = os.path.join(tmp, "mappings.yml")
        write_config(cfg, config())
        lines = log.write(logs)
        with Exporter(["--start-at", "beginning", "--config.file", cfg, "--correlation.max-age", "100000d",
                       logs]) as e:
            samples = e.wait_for_lines(lines)
            problems = all_problems(samples, log)
            assert not problems, "\n".join(problems[:30])
            # Both mappings' open starts are in the exporter's count of them.
            _, truth = log.whole_expected()
            open_calls = sum(v for v in series_of(samples, "openai_api_requests_in_flight").values())
            open_http = sum(truth.gauge.values())
            assert open_http > 0 and open_calls > 0
            assert value(samples, "ailog_exporter_correlation_open_entries") == open_calls + open_http


def replayed(paths, threads):
    r = subprocess.run([binary(), "replay", "--config.file", paths[0], "--output", "prometheus", "-q",
                        "--threads", str(threads), "--correlation.max-age", "100000d"] + paths[1:],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return parse_exposition(r.stdout.decode())


def test_replayed_on_one_and_two_threads_equals_both_generators():
    with tempfile.TemporaryDirectory() as tmp:
        log = Log(tmp, 22)
        logs = os.path.join(tmp, "logs")
        os.mkdir(logs)
        cfg = os.path.join(tmp, "mappings.yml")
        write_config(cfg, config())
        log.write(logs)
        expected, _ = log.whole_expected()
        inputs = [os.path.join(logs, n) for n in sorted(log.inputs)]
        for threads in (1, 2):
            samples = replayed([cfg] + inputs, threads)
            problems = compare(samples, expected, check_self=False) + http_differences(samples, log.figures())
            assert not problems, f"--threads {threads}:\n" + "\n".join(problems[:30])
            # One file on two threads is decoded by workers in file order.
            samples = replayed([cfg, inputs[0]], threads)
            problems = compare(samples, expected, check_self=False) + \
                http_differences(samples, log.figures(["app.log"]))
            assert not problems, f"app.log, --threads {threads}:\n" + "\n".join(problems[:30])


def test_restart_restores_open_starts_of_both_mappings():
    with tempfile.TemporaryDirectory() as tmp:
        log = Log(tmp, 23)
        logs = os.path.join(tmp, "logs")
        os.mkdir(logs)
        cfg = os.path.join(tmp, "mappings.yml")
        write_config(cfg, config())
        state = os.path.join(tmp, "state.json")
        args = ["--start-at", "beginning", "--config.file", cfg, "--correlation.max-age", "100000d",
                "--state.file", state, logs]
        lines = log.write(logs, upto=0.5)
        with Exporter(args) as e:
            e.wait_for_lines(lines)
            assert e.stop() == 0
        with open(state) as f:
            saved = json.load(f)
        by_mapping = {}
        for o in saved["open_starts"]:
            by_mapping[o.get("mapping")] = by_mapping.get(o.get("mapping"), 0) + 1
        assert by_mapping.get("calls", 0) > 0 and by_mapping.get("http", 0) > 0, by_mapping

        lines = log.write(logs)
        with Exporter(args) as e:
            samples = e.wait_for_lines(lines)
            problems = all_problems(samples, log)
            assert not problems, "\n".join(problems[:30])


def test_reload_renaming_then_removing_the_http_mapping():
    with tempfile.TemporaryDirectory() as tmp:
        log = Log(tmp, 24)
        logs = os.path.join(tmp, "logs")
        os.mkdir(logs)
        cfg = os.path.join(tmp, "mappings.yml")
        write_config(cfg, config(levels=False))

        def reloaded(e, since):
            def done():
                s = e.samples()
                return s if value(s, "ailog_exporter_config_last_reload_success_timestamp_seconds") > since else None
            return wait_until(done, what="a successful reload")

        lines = log.write(logs, upto=0.4)
        with Exporter(["--start-at", "beginning", "--config.file", cfg, "--correlation.max-age", "100000d",
                       logs]) as e:
            before = e.wait_for_lines(lines)
            problems = http_differences(before, log.truth(0.4).figures())
            assert not problems, "\n".join(problems[:30])

            # Renamed: the counters and histograms stay as they are; the open
            # starts and the in-flight gauge belong to the old name and go.
            write_config(cfg, config("web", levels=False))
            e.proc.send_signal(signal.SIGHUP)
            after = reloaded(e, value(before, "ailog_exporter_config_last_reload_success_timestamp_seconds"))
            kept = {k: v for k, v in before.items() if k[0].startswith(HTTP_METRICS[:2])}
            now = {k: v for k, v in after.items() if k[0].startswith(HTTP_METRICS[:2])}
            assert kept and now == kept
            assert not series_of(after, "http_requests_in_flight")

            lines = log.write(logs, upto=0.7)
            samples = e.wait_for_lines(lines)
            truth = log.truth(0.7, cuts=(0.4,))
            problems = http_differences(samples, truth.figures())
            assert not problems, "\n".join(problems[:30])
            # Answers to requests opened before the reload have no start.
            unmatched = value(samples, "ailog_exporter_unmatched_entries_total", kind="completed")
            assert unmatched == truth.unmatched > log.truth(0.7).unmatched, (unmatched, truth.unmatched)

            # Removed: its series go; the model calls go on, exact.
            write_config(cfg, config(None, levels=False))
            e.proc.send_signal(signal.SIGHUP)
            after = reloaded(e, value(samples, "ailog_exporter_config_last_reload_success_timestamp_seconds"))
            assert not [k for k in after if k[0].startswith(HTTP_METRICS)]
            lines = log.write(logs)
            samples = e.wait_for_lines(lines)
            problems = compare(samples, log.expected, check_self=False)
            assert not problems, "\n".join(problems[:30])
            assert not [k for k in samples if k[0].startswith(HTTP_METRICS)]
            assert value(samples, "ailog_exporter_lines_read_total") == log.lines()
            # The HTTP lines read after the removal are lines no mapping takes.
            http_after = sum(len(log.events(n, 0.7, 1.0)) for n in log.inputs)
            assert value(samples, "ailog_exporter_lines_skipped_total", reason="not_matched") == \
                log.expected["skipped"].get("not_matched", 0) + http_after


if __name__ == "__main__":
    run_tests([test_served_live_equals_both_generators, test_replayed_on_one_and_two_threads_equals_both_generators,
               test_restart_restores_open_starts_of_both_mappings, test_reload_renaming_then_removing_the_http_mapping])
