"""A mapping reloaded while serving (SIGHUP, POST /-/reload) and changed
between runs: series that stay keep their values, series of removed or
changed metrics go, a file that does not load leaves the running mapping in
force and says so in ailog_exporter_config_last_reload_successful."""

import json
import os
import shutil
import signal
import tempfile

from harness import Exporter, generate, run_tests, series_of, value, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "executeparse.yml")

# The example with the errors metric removed and a counter of successes added.
NEW_METRIC = """
  - name: openai_api_successes_total
    help: Successful calls
    type: counter
    labels: [capability]
    updates:
      - entries: [succeeded]
        labels: {capability: {field: capability}}
        value: 1
"""


def changed_example(text):
    start = text.index("  - name: openai_api_request_errors_total")
    end = text.index("  - name: openai_api_requests_in_flight")
    return text[:start] + NEW_METRIC.lstrip("\n") + "\n" + text[end:]


def corpus(path, seed, start, lines=3000):
    return generate(path, path + ".json", "--flavour", "winston", "--wrapper", "none", "--lines", lines,
                    "--noise", 0.1, "--seed", seed, "--start", start)


def truth(expected, name):
    """{frozenset(labels): value} of a counter in the generator's figures."""
    return {frozenset(s["labels"].items()): s["value"] for s in expected["metrics"].get(name, [])}


def append(dst, src):
    with open(src, "rb") as f, open(dst, "ab") as out:
        out.write(f.read())


def line_count(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def reloaded_after(e, since):
    """Waits for a reload newer than `since` (success timestamp), returns the scrape."""
    def done():
        s = e.samples()
        return s if value(s, "ailog_exporter_config_last_reload_success_timestamp_seconds") > since else None
    return wait_until(done, what="a successful reload")


def test_sighup_reload_keeps_series_that_stay_and_drops_removed_ones():
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "mapping.yml")
        shutil.copy(EXAMPLE, config)
        log = os.path.join(tmp, "app.log")
        first = corpus(os.path.join(tmp, "a.log"), 3, "2025-06-01T12:00:00Z")
        second = corpus(os.path.join(tmp, "b.log"), 4, "2025-06-01T13:00:00Z")
        append(log, os.path.join(tmp, "a.log"))
        with Exporter(["--start-at", "beginning", "--config.file", config, log]) as e:
            before = e.wait_for_lines(line_count(log))
            requests = series_of(before, "openai_api_requests_total", required=True)
            assert requests == truth(first, "openai_api_requests_total")
            assert series_of(before, "openai_api_request_errors_total", required=True)
            assert value(before, "ailog_exporter_config_last_reload_successful") == 1
            loaded_at = value(before, "ailog_exporter_config_last_reload_success_timestamp_seconds")

            with open(config) as f:
                text = f.read()
            with open(config, "w") as f:
                f.write(changed_example(text))
            e.proc.send_signal(signal.SIGHUP)
            after = reloaded_after(e, loaded_at)
            assert value(after, "ailog_exporter_config_last_reload_successful") == 1
            # Kept, not reset: no spike in rate(). Removed: gone. Added: empty until lines come.
            assert series_of(after, "openai_api_requests_total") == requests
            assert series_of(after, "openai_api_tokens_total") == series_of(before, "openai_api_tokens_total")
            assert not series_of(after, "openai_api_request_errors_total")
            assert not series_of(after, "openai_api_successes_total")

            append(log, os.path.join(tmp, "b.log"))
            now = e.wait_for_lines(line_count(log))
            both = truth(first, "openai_api_requests_total")
            for k, v in truth(second, "openai_api_requests_total").items():
                both[k] = both.get(k, 0) + v
            assert series_of(now, "openai_api_requests_total") == both
            successes = {}
            for labels, v in truth(second, "openai_api_requests_total").items():
                d = dict(labels)
                if d["status"] == "success":
                    key = frozenset({"capability": d["capability"]}.items())
                    successes[key] = successes.get(key, 0) + v
            assert series_of(now, "openai_api_successes_total") == successes


def test_a_bad_file_leaves_the_mapping_in_force_and_says_so():
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "mapping.yml")
        shutil.copy(EXAMPLE, config)
        log = os.path.join(tmp, "app.log")
        first = corpus(os.path.join(tmp, "a.log"), 5, "2025-06-01T12:00:00Z")
        second = corpus(os.path.join(tmp, "b.log"), 6, "2025-06-01T13:00:00Z")
        append(log, os.path.join(tmp, "a.log"))
        with Exporter(["--start-at", "beginning", "--config.file", config, "--web.enable-lifecycle", log]) as e:
            before = e.wait_for_lines(line_count(log))
            loaded_at = value(before, "ailog_exporter_config_last_reload_success_timestamp_seconds")
            with open(config, "a") as f:
                f.write("metrics: [\n")
            e.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: value(e.samples(), "ailog_exporter_config_last_reload_successful") == 0,
                       what="the failed reload reported")
            assert "reload failed" in e.stderr() and "mapping.yml:" in e.stderr()
            # The same through the lifecycle endpoint: 500 with the file's line and column.
            status, _, body = e.get("/-/reload", method="POST")
            assert status == 500 and b"mapping.yml:" in body, (status, body)
            # The old mapping still counts.
            append(log, os.path.join(tmp, "b.log"))
            now = e.wait_for_lines(line_count(log))
            both = truth(first, "openai_api_request_errors_total")
            for k, v in truth(second, "openai_api_request_errors_total").items():
                both[k] = both.get(k, 0) + v
            assert series_of(now, "openai_api_request_errors_total") == both
            assert value(now, "ailog_exporter_config_last_reload_success_timestamp_seconds") == loaded_at
            # Mended: POST answers 200 once it is loaded, and the metric says so.
            shutil.copy(EXAMPLE, config)
            status, _, body = e.get("/-/reload", method="POST")
            assert status == 200, (status, body)
            after = e.samples()
            assert value(after, "ailog_exporter_config_last_reload_successful") == 1
            assert value(after, "ailog_exporter_config_last_reload_success_timestamp_seconds") > loaded_at
            assert e.get("/-/reload")[0] == 405


def test_the_lifecycle_endpoint_is_off_unless_enabled():
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "app.log")
        open(log, "w").close()
        with Exporter(["--config.file", EXAMPLE, log]) as e:
            assert e.get("/-/reload", method="POST")[0] == 403


def test_a_mapping_changed_between_runs_restores_what_still_fits():
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "mapping.yml")
        shutil.copy(EXAMPLE, config)
        state = os.path.join(tmp, "state.json")
        log = os.path.join(tmp, "app.log")
        first = corpus(os.path.join(tmp, "a.log"), 7, "2025-06-01T12:00:00Z")
        second = corpus(os.path.join(tmp, "b.log"), 8, "2025-06-01T13:00:00Z")
        append(log, os.path.join(tmp, "a.log"))
        args = ["--start-at", "end", "--state.file", state, "--config.file", config, log]
        with Exporter(["--start-at", "beginning"] + args[2:]) as e:
            before = e.wait_for_lines(line_count(log))
            assert e.stop() == 0
        with open(state) as f:
            saved = json.load(f)
        assert saved["mapping"] and all(f["shape"] for f in saved["families"])
        errors_saved = len(series_of(before, "openai_api_request_errors_total", required=True))
        durations_saved = len(series_of(before, "openai_api_request_duration_ms_count", required=True))

        # Errors removed; the duration histogram's buckets changed: both are dropped.
        with open(config) as f:
            text = changed_example(f.read())
        text = text.replace("buckets: [10, 50, 100, 250, 500, 1000, 2500, 5000, 10000]", "buckets: [100, 1000]")
        with open(config, "w") as f:
            f.write(text)
        append(log, os.path.join(tmp, "b.log"))
        with Exporter(args) as e:
            now = e.wait_for_lines(line_count(log))
            both = truth(first, "openai_api_requests_total")
            for k, v in truth(second, "openai_api_requests_total").items():
                both[k] = both.get(k, 0) + v
            # Restored, and read on from the saved position: each line once.
            assert series_of(now, "openai_api_requests_total") == both
            assert not series_of(now, "openai_api_request_errors_total")
            assert value(now, "ailog_exporter_state_series_dropped_total") == errors_saved + durations_saved
            # The changed histogram holds only what was read after the restart.
            count = sum(series_of(now, "openai_api_request_duration_ms_count").values())
            want = sum(s["count"] for s in second["metrics"]["openai_api_request_duration_ms"])
            assert count == want and count > 0, (count, want)
            assert "the mapping changed since the state was written" in e.stderr()


if __name__ == "__main__":
    run_tests([test_sighup_reload_keeps_series_that_stay_and_drops_removed_ones,
               test_a_bad_file_leaves_the_mapping_in_force_and_says_so,
               test_the_lifecycle_endpoint_is_off_unless_enabled,
               test_a_mapping_changed_between_runs_restores_what_still_fits])
