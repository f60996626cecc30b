"""The mapping as a file: the built-in mapping is examples/executeparse.yml, so
running with it gives every output byte for byte; check-config says what a
file defines or where each mistake is; serve and replay refuse a bad file
before they start; explain tells what each line becomes."""

import filecmp
import glob
import json
import os
import re
import subprocess
import tempfile

from harness import Exporter, binary, generate, parse_exposition, run_tests, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "executeparse.yml")


def run(*args, timeout=60):
    return subprocess.run([binary()] + list(args), capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


def corpus(tmp, flavour="winston", wrapper="none"):
    log = os.path.join(tmp, f"{flavour}-{wrapper}.log")
    generate(log, log + ".json", "--flavour", flavour, "--wrapper", wrapper, "--lines", 4000, "--noise", 0.2,
             "--seed", 7, "--start", "2025-06-01T12:00:00Z")
    return log


def test_the_example_is_the_built_in_mapping_byte_for_byte():
    with tempfile.TemporaryDirectory() as tmp:
        logs = [corpus(tmp, "winston"), corpus(tmp, "pino", "cri")]
        for log in logs:
            for output in ("summary", "json", "prometheus", "openmetrics"):
                base = ["replay", "-q", "--output", output, "--to", "2025-07-01T00:00:00Z", log]
                built_in = run(*base)
                from_file = run(base[0], "--config.file", EXAMPLE, *base[1:])
                assert built_in.returncode == 0 and from_file.returncode == 0, (built_in.stderr, from_file.stderr)
                assert len(built_in.stdout) > 500, (output, built_in.stdout[:200])
                assert built_in.stdout == from_file.stdout, (log, output)


def openai_series(text):
    return {k: v for k, v in parse_exposition(text).items() if k[0].startswith("openai_")}


def test_serve_with_the_example_serves_and_saves_the_same():
    with tempfile.TemporaryDirectory() as tmp:
        log = corpus(tmp)
        results = []
        for extra in ([], ["--config.file", EXAMPLE]):
            state = os.path.join(tmp, f"state{len(results)}.json")
            with Exporter(["--start-at", "beginning", "--state.file", state] + extra + [log]) as e:
                lines = sum(1 for _ in open(log, "rb"))
                samples = e.wait_for_lines(lines)
                exposition = e.scrape()
                assert e.stop() == 0
            with open(state) as f:
                saved = json.load(f)
            results.append((openai_series(exposition), saved))
        (a, state_a), (b, state_b) = results
        assert a and a == b
        # The state file: the same series, counters and open starts (its write times differ).
        for key in ("families", "open_starts", "counters"):
            assert state_a[key] == state_b[key], key


def test_check_config_lists_each_metric():
    r = run("check-config", EXAMPLE)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    lines = out.splitlines()
    assert "openai_api_requests_total counter labels=[capability,operation,status] updated_by=[succeeded,failed]" \
        in lines, out
    assert "openai_api_request_duration_ms histogram labels=[capability,operation,status] " \
        "updated_by=[succeeded,failed]" in lines, out
    assert "openai_api_requests_in_flight gauge labels=[capability,operation] updated_by=[open starts]" in lines, out
    assert lines[-1].endswith("5 metrics, 3 entry kinds, 9 fields"), out



def test_every_example_passes_check_config():
    examples = sorted(glob.glob(os.path.join(ROOT, "examples", "*.yml")))
    assert len(examples) >= 4, examples
    for path in examples:
        r = run("check-config", path)
        assert r.returncode == 0, f"{path}: {r.stderr.decode()}"
        assert r.stdout.decode().splitlines()[-1].startswith(f"{path}: "), r.stdout


BAD = """message: msg
entries:
  begin: {message: job started, role: begin}
  done: {mesage: job done}
metrics:
  - name: jobs
    type: counter
    labels: [result]
    updates:
      - {entries: [done, gone], labels: {result: outcome}, value: 1}
  - {name: latency_seconds, type: histogram, buckets: [0.1, 0.5, 0.2]}
"""


def test_check_config_names_each_mistake_with_its_place():
    with tempfile.TemporaryDirectory() as tmp:
        bad = os.path.join(tmp, "bad.yml")
        with open(bad, "w") as f:
            f.write(BAD)
        r = run("check-config", bad)
        assert r.returncode == 2, r
        err = r.stderr.decode()
        want = [
            f"{bad}:3:39: role must be start or end, not begin",
            f"{bad}:4:10: unknown key mesage in entry done (did you mean message?)",
            f"{bad}:6:11: counter jobs must end in _total",
            f"{bad}:10:26: no entry kind named gone",
            f"{bad}:11:66: buckets must be strictly increasing",
        ]
        for w in want:
            assert w in err, (w, err)
        assert r.stdout == b""

        r = run("check-config", os.path.join(tmp, "missing.yml"))
        assert r.returncode == 2 and b"missing.yml: cannot read" in r.stderr, r.stderr

        with open(bad, "w") as f:
            f.write("message: [msg\n")
        r = run("check-config", bad)
        assert r.returncode == 2 and re.search(rf"{re.escape(bad)}:2:1: ", r.stderr.decode()), r.stderr


def test_serve_and_replay_refuse_a_bad_config_before_starting():
    with tempfile.TemporaryDirectory() as tmp:
        bad = os.path.join(tmp, "bad.yml")
        with open(bad, "w") as f:
            f.write(BAD)
        log = os.path.join(tmp, "app.log")
        open(log, "w").close()
        out = os.path.join(tmp, "out.om")
        for args in (["serve", "--web.listen-address", "127.0.0.1:0", "--config.file", bad, log],
                     ["replay", "--config.file", bad, "-o", out, log]):
            r = run(*args)
            assert r.returncode == 2, (args, r)
            err = r.stderr.decode()
            assert f"{bad}:4:10: unknown key mesage" in err, err
            assert "listening" not in err, err
        assert not os.path.exists(out), "replay wrote its output before refusing the config"


EXPLAIN_IN = "\n".join([
    '{"message":"executeParse - start","requestId":"a","capability":"chat","operation":"core",'
    '"timestamp":"2025-06-01T12:00:00.000Z"}',
    "plain text",
    '{"message":"executeParse - failed","requestId":"a","capability":"chat","operation":"core",'
    '"openaiErrorStatusCode":429,"timestamp":"2025-06-01T12:00:01.500Z"}',
    '{"message":"executeParse - succeeded","requestId":"b","timestamp":"2025-06-01T12:00:02Z"}',
    '{"message":"executeParse - started","requestId":"c","capability":"chat","operation":"core"}',
]) + "\n"

EXPLAIN_OUT = """1: start at 2025-06-01T12:00:00.000Z
   fields: requestId="a" capability="chat" operation="core"
   openai_api_requests_in_flight{capability="chat",operation="core"} +1
2: skipped (not_json)
3: failed at 2025-06-01T12:00:01.500Z
   fields: requestId="a" capability="chat" operation="core" openaiErrorStatusCode=429
   openai_api_request_duration_ms{capability="chat",operation="core",status="failure"} observed 1500
   openai_api_request_errors_total{capability="chat",operation="core",error_type="RATE_LIMITED"} +1
   openai_api_requests_in_flight{capability="chat",operation="core"} -1
   openai_api_requests_total{capability="chat",operation="core",status="failure"} +1
4: skipped (missing_field)
5: skipped (not_matched): closest is start, but message is "executeParse - started", not "executeParse - start"
"""


def test_explain_tells_what_each_line_becomes():
    r = subprocess.run([binary(), "explain"], input=EXPLAIN_IN.encode(), capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == EXPLAIN_OUT, r.stdout.decode()
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "app.log")
        with open(log, "w") as f:
            f.write(EXPLAIN_IN)
        r = run("explain", "--config.file", EXAMPLE, log)
        assert r.returncode == 0 and r.stdout.decode() == EXPLAIN_OUT, r
        r = run("explain", os.path.join(tmp, "missing.log"))
        assert r.returncode == 2 and b"missing.log" in r.stderr, r


if __name__ == "__main__":
    run_tests([test_the_example_is_the_built_in_mapping_byte_for_byte,
               test_serve_with_the_example_serves_and_saves_the_same, test_check_config_lists_each_metric, test_every_example_passes_check_config,
               test_check_config_names_each_mistake_with_its_place,
               test_serve_and_replay_refuse_a_bad_config_before_starting, test_explain_tells_what_each_line_becomes])
