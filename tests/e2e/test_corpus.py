"""Generated corpora of every flavour and wrapper, hostile lines included,
served by the real binary from a file and from stdin, compared value by
value (counts, token sums, every histogram bucket, sum and count, skip
reasons) with what the generator says it wrote, and linted by promtool."""

import json
import os
import subprocess
import tempfile

from harness import Exporter, compare, generate, promtool_problems, run_tests, state_samples

# (flavour, wrapper, extra generator args)
CASES = [
    ("winston", "none", ["--crlf", "0.2"]),
    ("pino", "none", []),
    ("bunyan", "none", []),
    ("mixed", "none", ["--crlf", "0.1"]),
    ("winston", "docker", []),
    ("pino", "cri", []),
]
MAX_LINE = 4096
# Correlation must not forget the corpus's old starts while the test runs.
SERVE_ARGS = ["--start-at", "beginning", "--correlation.max-age", "100000d", "--max-line-bytes", str(MAX_LINE)]


def corpus(tmp, flavour, wrapper, extra, seed, lines=3000, hostile=True, max_line=MAX_LINE):
    out = os.path.join(tmp, f"{flavour}-{wrapper}.log")
    args = ["--flavour", flavour, "--wrapper", wrapper, "--seed", seed, "--lines", lines,
            "--max-line-bytes", max_line] + (["--hostile"] if hostile else []) + extra
    return out, generate(out, out + ".expected.json", *args)


def check(exporter, expected):
    samples = exporter.wait_for_lines(expected["lines"])
    problems = compare(samples, expected)
    assert not problems, "\n".join(problems[:40])
    lint = promtool_problems(exporter.scrape())
    assert not lint, "\n".join(lint)


def test_every_flavour_and_wrapper_from_a_file():
    tmp = tempfile.mkdtemp()
    for i, (flavour, wrapper, extra) in enumerate(CASES):
        path, expected = corpus(tmp, flavour, wrapper, extra, seed=100 + i)
        with Exporter(SERVE_ARGS + [path]) as e:
            try:
                check(e, expected)
            except AssertionError as err:
                raise AssertionError(f"{flavour}/{wrapper}: {err}") from None


def test_split_records_with_the_default_line_limit():
    tmp = tempfile.mkdtemp()
    for i, (flavour, wrapper) in enumerate([("winston", "docker"), ("pino", "cri")]):
        path, expected = corpus(tmp, flavour, wrapper, ["--long-entries", "0.05"], seed=200 + i, lines=800,
                                max_line=1 << 20)
        with Exporter(["--start-at", "beginning", "--correlation.max-age", "100000d", path]) as e:
            try:
                check(e, expected)
            except AssertionError as err:
                raise AssertionError(f"{flavour}/{wrapper}: {err}") from None


def test_stdin():
    tmp = tempfile.mkdtemp()
    path, expected = corpus(tmp, "mixed", "none", [], seed=300, lines=5000)
    with open(path, "rb") as f:
        with Exporter(SERVE_ARGS + ["-"], stdin=f) as e:
            check(e, expected)
            # End of stdin: still serving the final values.
            assert e.proc.poll() is None
            check(e, expected)


def test_stdin_exit_on_eof():
    """--exit-on-eof with stdin: exit 0 at the end of the input, every line
    read and counted. The state committed at exit holds the final figures:
    they equal the generator's, series for series."""
    tmp = tempfile.mkdtemp()
    path, expected = corpus(tmp, "winston", "none", [], seed=301, lines=500)
    state = os.path.join(tmp, "state.json")
    with open(path, "rb") as f:
        r = subprocess.run([os.environ["AILOG_EXPORTER"], "serve", "--exit-on-eof", "--web.listen-address",
                            "127.0.0.1:0", "--state.file", state] + SERVE_ARGS + ["-"],
                           stdin=f, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    with open(state) as f:
        saved = json.load(f)
    problems = compare(state_samples(saved), expected)
    assert not problems, "\n".join(problems[:40])
    assert saved["counters"]["lines_read"] == expected["lines"] > 0, saved["counters"]
    assert saved["counters"]["state_write_failures"] == 0, saved["counters"]


if __name__ == "__main__":
    run_tests([test_every_flavour_and_wrapper_from_a_file, test_split_records_with_the_default_line_limit,
               test_stdin, test_stdin_exit_on_eof])
