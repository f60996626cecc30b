#!/usr/bin/env python3
"""Two nodes' histories, replayed with their own labels, imported into the
real VictoriaMetrics (Debian's victoria-metrics, single node; the cluster
version takes the same import API) through /api/v1/import/prometheus, and
asked back with PromQL: per node and in sum, every series of the model-call
counters equals the generator's figures for that node's log, at the end of
the history. Replaying a history again writes the same bytes, and importing
it again changes no answer.

Usage: AILOG_EXPORTER=build/ailog_exporter python3 tests/e2e/test_victoriametrics.py [test_name ...]
"""

import json
import math
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request

from harness import binary, free_port, generate, run_tests, wait_until

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


def replay(log, out, *labels):
    r = subprocess.run([binary(), "replay", "-q", "--output", "openmetrics", "-o", out,
                        "--correlation.max-age", "100000d"] + [f"--label={x}" for x in labels] + [log],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()


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


if __name__ == "__main__":
    run_tests([test_two_nodes_imported_and_asked_back])
