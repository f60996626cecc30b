#!/usr/bin/env python3
"""Two nodes' histories, replayed with their own labels, imported into the
real VictoriaMetrics (Debian's victoria-metrics, single node; the cluster
version takes the same import API) through /api/v1/import/prometheus, and
asked back with PromQL: per node and in sum, every series of the model-call
counters equals the generator's figures for that node's log, at the end of
the history. Replaying a history again writes the same bytes, and importing
it again changes no answer.

One history replayed in three time windows (--to T of one is --from T of
the next; one seam on the sampling grid, one between two steps) equals one
replay of the whole: every series' final values add up to the whole's
(counters, histogram buckets, the matched and unmatched entries: an end
after a seam finds its start before it), no instant of a series is sampled
by two windows, the in-flight gauge after a seam is the whole's, and once
imported together the windows answer increase() over the whole history as
the whole replay imported beside them does, series by series and bucket by
bucket.

Usage: AILOG_EXPORTER=build/ailog_exporter python3 tests/e2e/test_victoriametrics.py [test_name ...]
"""

import calendar
import datetime
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from harness import binary, free_port, generate, parse_exposition, run_tests, wait_until

COUNTERS = ("openai_api_requests_total", "openai_api_tokens_total", "openai_api_request_errors_total")
START = "2025-06-01T12:00:00Z"


class VictoriaMetrics:
    """The real victoria-metrics binary on 127.0.0.1, its data in `tmp`."""

    def __init__(self, tmp):
        path = shutil.which("victoria-metrics")
        if path is None:
            raise AssertionError("victoria-metrics is not installed (Debian package victoria-metrics)")
        for attempt in range(3):
            self.base = f"http://127.0.0.1:{free_port()}"
            self.log = open(os.path.join(tmp, f"vm-{attempt}.log"), "wb")
            self.proc = subprocess.Popen([path, f"-storageDataPath={os.path.join(tmp, f'vm-{attempt}')}",
                                          f"-httpListenAddr={self.base[7:]}", "-retentionPeriod=100y",
                                          "-search.disableCache"],
                                         stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
            try:
                wait_until(self._healthy, timeout=30, interval=0.1, what="victoria-metrics /health")
                return
            except AssertionError:
                self.stop()
        raise AssertionError("victoria-metrics did not start")

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"victoria-metrics exited with {self.proc.returncode}")
        try:
            with urllib.request.urlopen(self.base + "/health", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    def import_prometheus(self, path):
        with open(path, "rb") as f:
            req = urllib.request.Request(self.base + "/api/v1/import/prometheus", data=f.read(), method="POST")
        with urllib.request.urlopen(req, timeout=60) as r:
            assert r.status == 204, r.status
        urllib.request.urlopen(self.base + "/internal/force_flush", timeout=30).read()

    def query(self, expr, at):
        url = self.base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
        with urllib.request.urlopen(url, timeout=30) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return {frozenset(s["metric"].items()): float(s["value"][1]) for s in body["data"]["result"]}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def replay(log, out, *labels, output="openmetrics", max_age="100000d", window=()):
    r = subprocess.run([binary(), "replay", "-q", "--output", output, "-o", out, "--correlation.max-age", max_age]
                       + [f"--label={x}" for x in labels] + list(window) + [log],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()


def samples_of(path):
    """{(series text, timestamp): value} of an OpenMetrics file; a repeated instant of a series fails."""
    out = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            series, v, ts = line.rsplit(" ", 2)
            assert (series, ts) not in out, f"{series} sampled twice at {ts} in {path}"
            out[(series, float(ts))] = float(v)
    return out


def truth(expected, node):
    """{(metric, frozenset of labels with node)}: value} of the generator's counters."""
    out = {}
    for name in COUNTERS:
        for s in expected["metrics"].get(name, []):
            out[(name, frozenset({**s["labels"], "node": node}.items()))] = s["value"]
    return out


def test_two_nodes_imported_and_asked_back():
    tmp = tempfile.mkdtemp(prefix="ailog-vm-")
    vm = None
    try:
        nodes = {}
        for i, node in enumerate(("node-a", "node-b")):
            log = os.path.join(tmp, f"{node}.log")
            expected = generate(log, log + ".json", "--lines", 4000 + 1000 * i, "--seed", 61 + i, "--start", START)
            nodes[node] = (log, expected)
        vm = VictoriaMetrics(tmp)
        for node, (log, _) in nodes.items():
            out = os.path.join(tmp, f"{node}.om")
            replay(log, out, f"node={node}", "job=ailog_exporter")
            vm.import_prometheus(out)
        # Asked at the last sample of all: every series has its final value there.
        last = 0.0
        for node in nodes:
            with open(os.path.join(tmp, f"{node}.om")) as f:
                for line in f:
                    if line and not line.startswith("#"):
                        last = max(last, float(line.rsplit(" ", 1)[1]))
        want = {}
        for node, (_, expected) in nodes.items():
            want.update(truth(expected, node))
        problems = []
        for name in COUNTERS:
            got = vm.query(name, last)
            got = {(name, frozenset((k, v) for k, v in labels if k not in ("__name__", "job"))): v
                   for labels, v in got.items()}
            mine = {k: v for k, v in want.items() if k[0] == name}
            for key in set(got) | set(mine):
                if key not in got or key not in mine or not math.isclose(got[key], mine[key], rel_tol=1e-12):
                    problems.append(f"{name}{dict(key[1])}: VictoriaMetrics {got.get(key)}, the log {mine.get(key)}")
        assert not problems, f"{len(problems)} series differ:\n" + "\n".join(sorted(problems)[:10])

        # Per node and in sum, as a dashboard asks.
        for node, (_, expected) in nodes.items():
            total = sum(s["value"] for s in expected["metrics"]["openai_api_requests_total"])
            got = vm.query(f'sum(openai_api_requests_total{{node="{node}"}})', last)
            assert list(got.values()) == [total], (node, got, total)
        total = sum(sum(s["value"] for s in e["metrics"]["openai_api_requests_total"]) for _, e in nodes.values())
        assert list(vm.query("sum(openai_api_requests_total)", last).values()) == [total]
        by_node = vm.query("sum by (node) (openai_api_requests_total)", last)
        assert sorted(dict(k)["node"] for k in by_node) == sorted(nodes), by_node

        # The same history again: the same bytes, and the same answers once imported twice.
        log, _ = nodes["node-a"]
        again = os.path.join(tmp, "node-a.again.om")
        replay(log, again, "node=node-a", "job=ailog_exporter")
        with open(again, "rb") as a, open(os.path.join(tmp, "node-a.om"), "rb") as b:
            assert a.read() == b.read(), "a second replay of the same history differs"
        before = vm.query("openai_api_requests_total", last)
        vm.import_prometheus(again)
        assert vm.query("openai_api_requests_total", last) == before
        series = vm.query('count(openai_api_requests_total{node="node-a"})', last)
        assert list(series.values()) == [len([k for k in want if k[0] == "openai_api_requests_total"
                                              and ("node", "node-a") in k[1]])], series
        print(f"     {len(want)} series of two nodes asked back from VictoriaMetrics")
    finally:
        if vm is not None:
            vm.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def test_windows_add_up_to_the_whole():
    tmp = tempfile.mkdtemp(prefix="ailog-vm-")
    vm = None
    try:
        log = os.path.join(tmp, "app.log")
        # Four calls a second, each up to 10 s long: starts before a seam end after it.
        generate(log, log + ".json", "--lines", 24000, "--seed", 71, "--start", START, "--rate", 4)
        start_ms = calendar.timegm(time.strptime(START, "%Y-%m-%dT%H:%M:%SZ")) * 1000
        seams = [start_ms + 12 * 60 * 1000, start_ms + 31 * 60 * 1000 + 7500]  # on the 15 s grid, between steps
        # An entry exactly at the first seam: in the earlier window only, sampled there.
        with open(log) as f:
            lines = f.readlines()
        stamp = re.compile(r'"timestamp":"([^"]+)"')
        for i, line in enumerate(lines):
            m = stamp.search(line)
            if m and datetime.datetime.fromisoformat(m.group(1)).timestamp() * 1000 >= seams[0]:
                lines[i] = line[:m.start(1)] + iso(seams[0]) + line[m.end(1):]
                break
        with open(log, "w") as f:
            f.writelines(lines)
        windows = [("--to", iso(seams[0])), ("--from", iso(seams[0]), "--to", iso(seams[1])),
                   ("--from", iso(seams[1]))]
        whole_om, whole_prom = os.path.join(tmp, "whole.om"), os.path.join(tmp, "whole.prom")
        replay(log, whole_om, "replay=whole", max_age="10m")
        replay(log, whole_prom, output="prometheus", max_age="10m")
        parts = []
        for i, w in enumerate(windows):
            om, prom = os.path.join(tmp, f"w{i}.om"), os.path.join(tmp, f"w{i}.prom")
            replay(log, om, "replay=split", max_age="10m", window=w)
            replay(log, prom, output="prometheus", max_age="10m", window=w)
            parts.append((om, prom))

        # Final values: the windows add up to the whole, counters, buckets and entries alike.
        with open(whole_prom) as f:
            whole = parse_exposition(f.read())
        summed = {}
        for _, prom in parts:
            with open(prom) as f:
                for key, v in parse_exposition(f.read()).items():
                    summed[key] = summed.get(key, 0) + v
        additive = [k for k in whole if k[0].startswith("openai_api_") and "in_flight" not in k[0]
                    or k[0] in ("ailog_exporter_entries_total", "ailog_exporter_unmatched_entries_total")]
        problems = [f"{k[0]}{dict(k[1])}: windows {summed.get(k)}, whole {whole[k]}" for k in additive
                    if not math.isclose(summed.get(k, 0), whole[k], rel_tol=1e-9, abs_tol=1e-9)]
        problems += [f"{k[0]}{dict(k[1])}: only in a window" for k in summed
                     if k[0].startswith("openai_api_") and "in_flight" not in k[0] and k not in whole]
        assert not problems, f"{len(problems)} series differ:\n" + "\n".join(sorted(problems)[:10])
        failed = sum(v for k, v in whole.items() if k[0] == "openai_api_request_duration_ms_count"
                     and dict(k[1]).get("status") == "failure")
        assert failed > 0, "no failure duration (taken from its start) to check across the seams"

        # Each instant of a series in one window only; the in-flight gauge after a seam is the whole's.
        whole_samples = {(k[0].replace("whole", "split"), k[1]): v for k, v in samples_of(whole_om).items()}
        seen = {}
        for i, (om, _) in enumerate(parts):
            for (series, ts), v in samples_of(om).items():
                assert (series, ts) not in seen, f"{series} at {ts}: windows {seen[(series, ts)]} and {i}"
                seen[(series, ts)] = i
                if series.startswith("openai_api_requests_in_flight") and ts * 1000 % 15000 == 0:
                    assert whole_samples.get((series, ts), 0) == v, (series, ts, v, whole_samples.get((series, ts)))
        assert {i for i in seen.values()} == {0, 1, 2}

        # Imported together, beside the whole: increase() over the whole history is the same.
        vm = VictoriaMetrics(tmp)
        for om, _ in parts:
            vm.import_prometheus(om)
        vm.import_prometheus(whole_om)
        last = max(ts for _, ts in seen)
        span = f"{int(last - start_ms / 1000) + 3600}s"
        compared = 0
        for name in COUNTERS + ("openai_api_request_duration_ms_bucket", "openai_api_request_duration_ms_count"):
            by_replay = {}
            for labels, v in vm.query(f"increase({name}[{span}])", last).items():
                d = dict(labels)
                by_replay.setdefault(d.pop("replay"), {})[frozenset(d.items())] = v
            assert by_replay.get("whole") and by_replay.keys() == {"whole", "split"}, (name, by_replay.keys())
            for key in by_replay["whole"].keys() | by_replay["split"].keys():
                w, p = by_replay["whole"].get(key), by_replay["split"].get(key)
                assert w is not None and p is not None and math.isclose(w, p, rel_tol=1e-9), \
                    f"increase({name}{dict(key)}): whole {w}, windows {p}"
                compared += 1
        print(f"     3 windows add up to the whole: {len(additive)} final values, {compared} increases in VictoriaMetrics")
    finally:
        if vm is not None:
            vm.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_tests([test_two_nodes_imported_and_asked_back, test_windows_add_up_to_the_whole])
