"""examples/executeparse-extended.yml end to end: seed 000's mapping plus a
prompt_version label, a model label (the line's model, else its capability's
default model) and openai_api_cost_usd_total priced from the file's own price
table. A generated log (all flavours, twelve capabilities, a fifth of the
usages naming their model) with hand-written lines appended for what the
generator never writes (a model at the top level or in result.model, dated
snapshots, a model not in the table, a model priced at 0, no promptVersion,
cached input tokens, a capability not in the default map, a failed call that
names its model) is read by check-config, replay (final values and the JSON
summary) and a live serve tailing a growing directory. Each series of
requests, tokens, cost and errors, each histogram series (buckets, count,
sum) and each unpriced-entry count equals figures computed here from the
log lines and from the mapping file's default_model and prices, read with
PyYAML; summed over prompt_version and model they are the generator's seed
000 figures; and the built-in mapping on the same log still gives those."""

import collections
import datetime
import json
import math
import os
import re
import subprocess
import sys
import tempfile

from harness import Exporter, binary, compare, generate, parse_exposition, run_tests, series_of, show_series, \
    value, wait_until

try:
    import yaml
except ImportError:  # Debian's python3-yaml when this interpreter is not the system one
    sys.path.append("/usr/lib/python3/dist-packages")
    import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXTENDED = os.path.join(ROOT, "examples", "executeparse-extended.yml")

REQUESTS = "openai_api_requests_total"
DURATIONS = "openai_api_request_duration_ms"
TOKENS = "openai_api_tokens_total"
COST = "openai_api_cost_usd_total"
ERRORS = "openai_api_request_errors_total"
IN_FLIGHT = "openai_api_requests_in_flight"
UNPRICED = "ailog_exporter_unpriced_entries_total"
BUCKETS = (10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
BUCKET_LES = ("10", "50", "100", "250", "500", "1000", "2500", "5000", "10000", "+Inf")
# The hand-written lines are all of this operation: the generated calls'
# series are apart from theirs, and are exactly the generator's figures.
HAND = "handwritten"
MAX_AGE = ["--correlation.max-age", "100000d"]  # the log's 2025 starts never expire

# ---------------------------------------------------------------------------
# The mapping file, read independently of the exporter


class Mapping:
    """What the figures need from the mapping file: the default model of each
    capability, the error_type ranges and the price table (USD per token)."""

    def __init__(self, path):
        with open(path) as f:
            doc = yaml.safe_load(f)
        dm = doc["classifiers"]["default_model"]
        assert dm["field"] == "capability", dm
        self.default_map = dict(dm["map"])
        self.default_otherwise = dm["otherwise"]
        self.default_missing = dm["missing"]
        et = doc["classifiers"]["error_type"]
        self.error_ranges = [(r["from"], r["to"], r["value"]) for r in et["ranges"]]
        self.error_otherwise, self.error_missing = et["otherwise"], et["missing"]
        self.prices = {}
        for model, p in doc["prices"].items():
            # USD per million tokens; cached input at the input price unless given.
            self.prices[str(model)] = (p["input"] / 1e6, p.get("cached_input", p["input"]) / 1e6, p["output"] / 1e6)

    def default_model(self, capability):
        if capability is None:
            return self.default_missing
        return self.default_map.get(capability, self.default_otherwise)

    def error_type(self, status):
        if status is None:
            return self.error_missing
        for low, high, v in self.error_ranges:
            if low <= status <= high:
                return v
        return self.error_otherwise

    def price(self, model):
        """The model's prices, else, for a dated snapshot (-YYYY-MM-DD or
        -YYYYMMDD after a table name), its model's, else None."""
        if model in self.prices:
            return self.prices[model]
        m = re.fullmatch(r"(.+)-(\d{4}-\d{2}-\d{2}|\d{8})", model)
        return self.prices.get(m.group(1)) if m else None


# ---------------------------------------------------------------------------
# The figures of a log, computed from its lines


def _get(obj, path):
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def _first(obj, paths, kind):
    for p in paths:
        v = _get(obj, p)
        if v is not None:
            assert isinstance(v, kind) and not isinstance(v, bool), (p, v)
            return v
    return None


EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def _time_us(obj):
    """The entry's time in whole microseconds (ISO 8601 text or epoch ms)."""
    t = _first(obj, ("timestamp", "time"), (str, int, float))
    if isinstance(t, str):
        return (datetime.datetime.fromisoformat(t) - EPOCH) // datetime.timedelta(microseconds=1)
    return round(t * 1000)


ENTRY_MESSAGES = {"executeParse - start": "start", "executeParse - succeeded": "succeeded",
                  "executeParse - failed": "failed"}


def entry_kind(obj):
    msg = _first(obj, ("message", "msg"), str)
    if msg is None:
        return None
    for text, kind in ENTRY_MESSAGES.items():
        if msg == text or msg.startswith(text + " "):
            return kind
    return None


class Truth:
    """Every series of the extended mapping (and of the built-in one, by
    summing over prompt_version and model) for lines read in order."""

    def __init__(self, mapping):
        self.m = mapping
        self.counters = collections.Counter()  # (name, labels) -> value: requests, tokens, errors, cost
        self.hist = {}                          # labels -> [per-bucket counts, sum]
        self.unpriced = collections.Counter()   # model -> entries
        self.rows = {}                          # (capability, operation, model) -> [requests, cost or None]
        self.open = {}                          # requestId -> (start µs, (capability, operation))
        self.in_flight = collections.Counter()  # (capability, operation) -> open starts
        self.lines = 0

    @staticmethod
    def key(name, **labels):
        return (name, frozenset(labels.items()))

    def read(self, line):
        self.lines += 1
        obj = json.loads(line)
        kind = entry_kind(obj)
        if kind is None:
            return
        cap = _first(obj, ("capability",), str)
        op = _first(obj, ("operation",), str)
        assert cap is not None and op is not None, line  # required fields: the generator writes them
        rid = _first(obj, ("requestId",), str)
        t = _time_us(obj)
        if kind == "start":
            if rid is not None:
                old = self.open.pop(rid, None)
                if old is not None:
                    self.in_flight[old[1]] -= 1
                self.open[rid] = (t, (cap, op))
                self.in_flight[(cap, op)] += 1
            return

        pv = _first(obj, ("promptVersion",), str) or "none"
        model = _first(obj, ("model", "result.model", "result.usage.model"), str) or self.m.default_model(cap)
        status = "success" if kind == "succeeded" else "failure"
        call = dict(capability=cap, operation=op, prompt_version=pv, model=model)
        self.counters[self.key(REQUESTS, status=status, **call)] += 1
        row = self.rows.setdefault((cap, op, model), [0, None])
        row[0] += 1

        start = self.open.pop(rid, None) if rid is not None else None
        if start is not None:
            self.in_flight[start[1]] -= 1
        duration = _first(obj, ("result.durationMs",), (int, float))
        if duration is None and start is not None and t >= start[0]:
            duration = (t - start[0]) / 1000
        if duration is not None:
            h = self.hist.setdefault(frozenset(dict(call, status=status).items()), [[0] * 10, 0.0])
            i = 0
            while i < 9 and duration > BUCKETS[i]:
                i += 1
            h[0][i] += 1
            h[1] += duration

        if kind == "failed":
            status_code = _first(obj, ("openaiErrorStatusCode",), (int, float))
            error_type = self.m.error_type(status_code)
            self.counters[self.key(ERRORS, capability=cap, operation=op, error_type=error_type)] += 1
            return
        tin = _first(obj, ("result.usage.tokens.input",), (int, float))
        tout = _first(obj, ("result.usage.tokens.output",), (int, float))
        cached = _first(obj, ("result.usage.tokens.cached", "result.usage.tokens.cachedInput"), (int, float))
        if tin is not None:
            self.counters[self.key(TOKENS, type="input", **call)] += tin
        if tout is not None:
            self.counters[self.key(TOKENS, type="output", **call)] += tout
        if tin is None and tout is None and cached is None:
            return  # no usage: nothing to price
        price = self.m.price(model)
        if price is None:
            self.unpriced[model] += 1
            return
        p_in, p_cached, p_out = price
        c = min(cached or 0, tin) if tin is not None else (cached or 0)
        cost = ((tin or 0) - c) * p_in + c * p_cached + (tout or 0) * p_out
        self.counters[self.key(COST, capability=cap, operation=op, model=model)] += cost
        row[1] = (row[1] or 0.0) + cost

    def histogram_samples(self, labels_of=lambda labels: labels):
        """The histogram as exposition samples (cumulative buckets, _count, _sum)."""
        merged = {}
        for labels, (counts, total) in self.hist.items():
            m = merged.setdefault(labels_of(labels), [[0] * 10, 0.0])
            m[0] = [a + b for a, b in zip(m[0], counts)]
            m[1] += total
        out = {}
        for labels, (counts, total) in merged.items():
            cumulative = 0
            for le, n in zip(BUCKET_LES, counts):
                cumulative += n
                out[(DURATIONS + "_bucket", labels | {("le", le)})] = cumulative
            out[(DURATIONS + "_count", labels)] = cumulative
            out[(DURATIONS + "_sum", labels)] = total
        return out

    def extended(self):
        """The served figures of the extended mapping (not the in-flight gauge)."""
        out = dict(self.counters)
        out.update(self.histogram_samples())
        for model, n in self.unpriced.items():
            out[self.key(UNPRICED, metric=COST, model=model)] = n
        return out

    def base(self):
        """The figures of seed 000's mapping: the same, summed over
        prompt_version and model, without cost."""
        def drop(labels):
            return frozenset((k, v) for k, v in labels if k not in ("prompt_version", "model"))
        out = collections.Counter()
        for (name, labels), v in self.counters.items():
            if name != COST:
                out[(name, drop(labels))] += v
        out.update(self.histogram_samples(drop))
        for (cap, op), n in self.in_flight.items():
            out[self.key(IN_FLIGHT, capability=cap, operation=op)] = n
        return dict(out)


# ---------------------------------------------------------------------------
# The log: the generator's calls, then the hand-written ones


def hand_written_lines(after_ms):
    """Calls of operation `handwritten`, later than every generated entry."""
    lines = []

    def at(offset_ms):
        t = datetime.datetime.fromtimestamp((after_ms + offset_ms) / 1000.0, datetime.timezone.utc)
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"

    def entry(kind, rid, cap, offset_ms, pv="v9", pino=False, **extra):
        obj = {"level": "info", "message": "executeParse - " + kind, "timestamp": at(offset_ms)}
        if pino:
            obj = {"level": 30, "time": after_ms + offset_ms, "msg": "executeParse - " + kind}
        obj.update(requestId=rid, capability=cap, operation=HAND)
        if pv is not None:
            obj["promptVersion"] = pv
        obj.update(extra)
        lines.append(json.dumps(obj))

    def usage(inp=None, out=None, cached=None, cached_key="cached", **more):
        tokens = {}
        if inp is not None:
            tokens["input"] = inp
        if out is not None:
            tokens["output"] = out
        if cached is not None:
            tokens[cached_key] = cached
        return dict(more, tokens=tokens)

    # A model at the top level, cached input tokens priced at cached_input.
    entry("start", "h1", "summarize", 1000)
    entry("succeeded", "h1", "summarize", 1900, model="gpt-4o",
          result={"durationMs": 880, "usage": usage(1200, 300, 200)})
    # A dated snapshot takes its model's price; the cache under its other name.
    entry("start", "h2", "answer-question", 2000, pino=True)
    entry("succeeded", "h2", "answer-question", 2400, pino=True, model="gpt-4o-2024-08-06",
          result={"durationMs": 390.5, "usage": usage(5000, 800, 4096, "cachedInput")})
    # A model the table does not price: no cost, counted as unpriced (twice).
    entry("succeeded", "h3", "parse-task", 2500, model="mystery-model",
          result={"durationMs": 40, "usage": usage(100, 10)})
    entry("succeeded", "h4", "summarize", 2600, pv="v2", model="mystery-model",
          result={"durationMs": 12000, "usage": usage(300, 30)})
    # No promptVersion; a capability not in the default map; more cached
    # tokens than input tokens (the cache is part of the input).
    entry("start", "h5", "translate", 3000, pv=None)
    entry("succeeded", "h5", "translate", 3100, pv=None, result={"durationMs": 99, "usage": usage(1000, 100, 1500)})
    # A failed call that names its (dated) model, its duration from its start.
    entry("start", "h6", "extract-entities", 4000, pv=None)
    entry("failed", "h6", "extract-entities", 4750, pv=None, model="gpt-4.1-mini-2025-04-14",
          openaiErrorStatusCode=429, result={"usage": usage(10, 10)})
    lines[-1] = lines[-1].replace('"executeParse - failed"', '"executeParse - failed 429 Rate limit reached"')
    # The top-level model wins over the usage's.
    entry("succeeded", "h7", "classify-intent", 5000, model="gpt-4.1",
          result={"durationMs": 2500, "usage": usage(10000, 2000, model="gpt-4o-mini")})
    # result.model, a variant of a table name that is no dated snapshot (o3-pro
    # is not o3): unpriced; output tokens only.
    entry("succeeded", "h8", "plan-day", 5100, pv="v3", result={"model": "o3-pro", "durationMs": 5000.25,
                                                                "usage": usage(None, 500)})
    # A dated snapshot in Anthropic's form.
    entry("succeeded", "h8b", "plan-day", 5150, pv="v3", model="claude-opus-4-5-20251101",
          result={"durationMs": 800, "usage": usage(100, 50)})
    # Priced at 0: a cost series of 0, not unpriced.
    entry("succeeded", "h9", "summarize", 5200, model="llama3.1", result={"durationMs": 7, "usage": usage(3000, 700)})
    # The longest table name before the date: gpt-4o-mini, not gpt-4o.
    entry("succeeded", "h10", "summarize", 5300, model="gpt-4o-mini-2024-07-18",
          result={"durationMs": 10, "usage": usage(2000, 100, 1024)})
    # No usage: requests and durations only, at the capability's default model.
    entry("succeeded", "h11", "generate-title", 5400, result={"durationMs": 50})
    # A table name followed by something other than '-' is another model.
    entry("succeeded", "h12", "summarize", 5500, model="gpt-4o2", result={"durationMs": 1, "usage": usage(50, 5)})
    # Zero tokens of a priced model: a cost series of 0.
    entry("succeeded", "h13", "summarize", 5600, model="claude-sonnet-4.5",
          result={"durationMs": 100, "usage": usage(0, 0)})
    # Open at the end of the log.
    entry("start", "h14", "summarize", 5700, pv="v1")
    return lines


class Log:
    def __init__(self, tmp, seed=31, lines=6000):
        self.path = os.path.join(tmp, "corpus.log")
        self.expected = generate(self.path, self.path + ".json", "--flavour", "mixed", "--lines", lines, "--noise", 0,
                                 "--capabilities", 12, "--seed", seed)
        with open(self.path) as f:
            self.generated = f.read().splitlines()
        self.hand = hand_written_lines(self.expected["last_time_ms"])
        self.lines = self.generated + self.hand

    def write(self, path, upto=None):
        """Writes the log's first `upto` lines (all when None) to path."""
        with open(path, "w") as f:
            f.write("".join(line + "\n" for line in self.lines[:upto]))
        return os.path.getsize(path)

    def truth(self, mapping_path=EXTENDED, lines=None):
        t = Truth(Mapping(mapping_path))
        for line in self.lines if lines is None else lines:
            t.read(line)
        return t


# ---------------------------------------------------------------------------
# Comparisons


def differences(got, want, rel=1e-9):
    """Series either side lacks or holds another value for: counts exact,
    sums and costs to `rel` relative."""
    problems = []
    for key in sorted(set(got) | set(want), key=str):
        g, w = got.get(key), want.get(key)
        exact = key[0] != COST and not key[0].endswith("_sum")
        if g is None or w is None or (g != w if exact else not math.isclose(g, w, rel_tol=rel, abs_tol=1e-15)):
            problems.append(f"{show_series(*key)}: served {g}, expected {w}")
    return problems


def extended_series(samples):
    """The served series the extended mapping's figures cover."""
    families = (REQUESTS, TOKENS, COST, ERRORS, UNPRICED, DURATIONS + "_bucket", DURATIONS + "_count",
                DURATIONS + "_sum")
    return {k: v for k, v in samples.items() if k[0] in families}


def summed_over_prompt_and_model(samples):
    """The openai_* series with prompt_version and model summed away, cost
    left out, as seed 000's mapping would serve them."""
    out = collections.Counter()
    for (name, labels), v in samples.items():
        if name.startswith("openai_") and name != COST:
            out[(name, frozenset((k, x) for k, x in labels if k not in ("prompt_version", "model")))] += v
    return dict(out)


def generated_only(samples):
    return {k: v for k, v in samples.items() if dict(k[1]).get("operation") != HAND}


def check_extended(samples, log, truth):
    """Every figure of a scrape or a replay of the whole log against the truth."""
    problems = differences(extended_series(samples), truth.extended())
    assert not problems, f"{len(problems)} series differ:\n" + "\n".join(problems[:30])
    # The log exercises what it is meant to.
    served = {dict(k[1]).get("model") for k in samples if k[0] == REQUESTS}
    for m in ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o-2024-08-06", "mystery-model",
              "llama3.1", "o3-pro", "gpt-4.1-mini-2025-04-14"):
        assert m in served, (m, served)
    assert value(samples, UNPRICED, metric=COST, model="mystery-model") == 2
    assert value(samples, UNPRICED, metric=COST, model="o3-pro") == 1
    assert value(samples, COST, capability="plan-day", operation=HAND, model="claude-opus-4-5-20251101") > 0
    assert value(samples, REQUESTS, capability="translate", operation=HAND, status="success", prompt_version="none",
                 model=truth.m.default_otherwise) == 1
    # Summed over prompt_version and model, the generated calls are seed 000's figures.
    base = generated_only(summed_over_prompt_and_model(samples))
    problems = compare(base, log.expected, check_self=False)
    assert not problems, "summed over prompt_version and model:\n" + "\n".join(problems[:30])


def replay(log_path, *args, output="prometheus"):
    r = subprocess.run([binary(), "replay", "-q", "--output", output] + MAX_AGE + list(args) + [log_path],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


# ---------------------------------------------------------------------------
# Tests


def test_truth_is_the_generators_figures():
    """The figures computed here, summed over prompt_version and model, are the
    generator's for its own lines: what they add is only the split."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Log(tmp)
        t = log.truth(lines=log.generated)
        problems = compare(t.base(), log.expected, check_self=False)
        assert not problems, "\n".join(problems[:30])
        # Both sources of the model occur in the generated lines.
        models = {dict(k[1])["model"] for k in t.counters if k[0] == REQUESTS}
        assert {"gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1-nano"} <= models, models
        assert len(t.rows) > 20 and not t.unpriced


def test_check_config_lists_the_cost_metric():
    r = subprocess.run([binary(), "check-config", EXTENDED], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode()
    lines = r.stdout.decode().splitlines()
    assert f"{COST} counter labels=[capability,operation,model] updated_by=[succeeded]" in lines, lines
    assert f"{REQUESTS} counter labels=[capability,operation,status,prompt_version,model] " \
        "updated_by=[succeeded,failed]" in lines, lines
    assert lines[-1].endswith("6 metrics, 3 entry kinds, 12 fields"), lines


def test_replay_final_values():
    with tempfile.TemporaryDirectory() as tmp:
        log = Log(tmp)
        path = os.path.join(tmp, "app.log")
        log.write(path)
        samples = parse_exposition(replay(path, "--config.file", EXTENDED))
        check_extended(samples, log, log.truth())


def test_serve_tailing_a_growing_directory():
    with tempfile.TemporaryDirectory() as tmp:
        log = Log(tmp, seed=32)
        logs = os.path.join(tmp, "logs")
        os.mkdir(logs)
        path = os.path.join(logs, "app.log")
        n = len(log.lines)
        cuts = [n // 3, 2 * n // 3, n - len(log.hand) + 5, n]
        size = log.write(path, cuts[0])
        with Exporter(["--start-at", "beginning", "--config.file", EXTENDED] + MAX_AGE + [logs]) as e:
            for upto in cuts[1:] + [None]:
                wait_until(lambda: value(e.samples(), "ailog_exporter_bytes_read_total") >= size, timeout=30,
                           what=f"{size} bytes read")
                samples = e.samples()  # published after the lines' updates
                read = int(value(samples, "ailog_exporter_lines_read_total"))
                problems = differences(extended_series(samples), log.truth(lines=log.lines[:read]).extended())
                assert not problems, f"after {read} lines:\n" + "\n".join(problems[:30])
                if upto is None:
                    break
                with open(path, "a") as f:
                    f.write("".join(line + "\n" for line in log.lines[read:upto]))
                size = os.path.getsize(path)
            assert value(samples, "ailog_exporter_lines_read_total") == n, \
                (value(samples, "ailog_exporter_lines_read_total"), n)
            check_extended(samples, log, log.truth())
            # The in-flight gauge keeps seed 000's labels.
            truth = log.truth().base()
            gauge = {(IN_FLIGHT, k): v for k, v in series_of(samples, IN_FLIGHT, required=True).items()}
            problems = differences(gauge, {k: v for k, v in truth.items() if k[0] == IN_FLIGHT})
            assert not problems, "\n".join(problems[:30])


def test_replay_summary_costs_by_capability_operation_and_model():
    with tempfile.TemporaryDirectory() as tmp:
        log = Log(tmp)
        path = os.path.join(tmp, "app.log")
        log.write(path)
        summary = json.loads(replay(path, "--config.file", EXTENDED, output="json"))
        truth = log.truth()
        rows = {}
        for row in summary["rows"]:
            labels = row["labels"]
            assert set(labels) == {"capability", "operation", "model"}, labels
            key = (labels["capability"], labels["operation"], labels["model"])
            assert key not in rows, key
            rows[key] = row
        assert set(rows) == set(truth.rows), (set(rows) ^ set(truth.rows))
        problems = []
        for key, (requests, cost) in sorted(truth.rows.items()):
            row = rows[key]
            if row["requests"] != requests:
                problems.append(f"{key}: requests {row['requests']}, expected {requests}")
            # The cost of a model without a price is unknown (null), never 0;
            # a row of priced calls without usage costs 0.
            got = row.get("cost_usd")
            if key[2] in truth.unpriced:
                if got is not None:
                    problems.append(f"{key}: cost_usd {got}, expected null (unpriced model)")
                continue
            want = 0.0 if cost is None else cost
            if got is None or not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-15):
                problems.append(f"{key}: cost_usd {got}, expected {want}")
        assert not problems, "\n".join(problems[:30])
        total = sum(c for _, c in truth.rows.values() if c is not None)
        assert math.isclose(summary["total"]["cost_usd"], total, rel_tol=1e-9), (summary["total"]["cost_usd"], total)
        assert math.isclose(summary["total"]["cost_usd"], sum(r.get("cost_usd") or 0 for r in rows.values()),
                            rel_tol=1e-12)
        assert summary["total"]["requests"] == sum(r for r, _ in truth.rows.values())
        assert total > 0
        assert summary["unpriced"] == dict(truth.unpriced), (summary["unpriced"], truth.unpriced)

        # The table: a cost column, "-" for an unpriced model, the unpriced entries named below.
        table = replay(path, "--config.file", EXTENDED, output="summary")
        lines = table.splitlines()
        header = next(line for line in lines if line.startswith("capability"))
        assert header.split()[-2:] == ["cost", "USD"], header
        unpriced_rows = [line for line in lines if len(line.split()) > 3 and line.split()[2] in truth.unpriced]
        assert len(unpriced_rows) >= 2, lines
        for line in unpriced_rows:
            assert line.split()[-1] == "-", line
        total_line = next(line for line in lines if line.startswith("TOTAL"))
        assert math.isclose(float(total_line.split()[-1]), total, abs_tol=1e-6), total_line
        note = next(line for line in lines if line.startswith("Not priced"))
        for model, n in truth.unpriced.items():
            assert f"{model} ({n})" in note, note


def test_the_built_in_mapping_is_seed_000s():
    with tempfile.TemporaryDirectory() as tmp:
        log = Log(tmp)
        path = os.path.join(tmp, "app.log")
        log.write(path)
        samples = parse_exposition(replay(path))
        split = [show_series(*k) for k in samples if dict(k[1]).keys() & {"prompt_version", "model"}]
        assert not split, split[:5]
        assert not series_of(samples, COST) and not series_of(samples, UNPRICED)
        problems = compare(generated_only(samples), log.expected, check_self=False)
        assert not problems, "\n".join(problems[:30])
        # The hand-written calls too, as the figures here sum them.
        base = {k: v for k, v in log.truth().base().items() if k[0] != IN_FLIGHT}
        served = {k: v for k, v in samples.items()
                  if k[0] in (REQUESTS, TOKENS, ERRORS, DURATIONS + "_bucket", DURATIONS + "_count",
                              DURATIONS + "_sum")}
        problems = differences(served, base)
        assert not problems, "\n".join(problems[:30])


if __name__ == "__main__":
    run_tests([test_truth_is_the_generators_figures, test_check_config_lists_the_cost_metric, test_replay_final_values,
               test_serve_tailing_a_growing_directory, test_replay_summary_costs_by_capability_operation_and_model,
               test_the_built_in_mapping_is_seed_000s])
