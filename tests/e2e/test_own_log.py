"""A log shaped unlike executeParse, with its own mapping (examples/jobs.yml):
context nested under ctx.job, epoch seconds for times, seconds for durations,
the queue and path only on the start entry, ids in paths normalised, a
level told by pino's numbers. Every series, served live and replayed,
equals the figures of the generator below, bucket by bucket."""

import json
import math
import os
import random
import subprocess
import tempfile
import uuid

from harness import Exporter, binary, differences, parse_exposition, run_tests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAPPING = os.path.join(ROOT, "examples", "jobs.yml")
BUCKETS = [0.1, 0.5, 1, 5]
QUEUES = ["email", "billing", "reports"]
ERRORS = {"TimeoutError": "timeout", "ValidationError": "invalid_input"}


def generate(log_path, jobs=2500, seed=11):
    """Writes the log; returns its line count and the expected series:
    {(name, frozenset(labels)): value}."""
    rng = random.Random(seed)
    t = 1717243200.0
    lines, open_jobs = [], []
    want = {}

    def add(name, labels, v):
        key = (name, frozenset(labels.items()))
        want[key] = want.get(key, 0) + v

    def observe(queue, v):
        for le in BUCKETS + [math.inf]:
            if v <= le:
                add("job_duration_seconds_bucket", {"queue": queue, "le": "+Inf" if le == math.inf else f"{le:g}"}, 1)
        add("job_duration_seconds_sum", {"queue": queue}, v)
        add("job_duration_seconds_count", {"queue": queue}, 1)

    def line(obj):
        lines.append(json.dumps(obj, separators=(",", ":")))

    for n in range(jobs):
        t += rng.uniform(0.001, 0.2)
        queue = rng.choice(QUEUES)
        tenant = rng.randint(1, 400)
        if rng.random() < 0.5:
            path, route = f"/tenants/{tenant}/jobs/{rng.randint(1, 10**6)}", "/tenants/:id/jobs/:id"
        else:
            path, route = f"/tenants/{tenant}/exports/{uuid.UUID(int=rng.getrandbits(128))}", "/tenants/:id/exports/:uuid"
        job = {"id": f"j-{n}", "queue": queue, "path": path}
        line({"level": 30, "ts": round(t, 3), "msg": "job received", "pid": 7, "ctx": {"job": job}})
        open_jobs.append((job, route))
        if rng.random() < 0.1:
            line({"level": 30, "ts": round(t, 3), "msg": "heartbeat", "ctx": {}})  # no kind: skipped
        # End a few of the open jobs, in any order.
        while open_jobs and rng.random() < 0.6:
            job, route = open_jobs.pop(rng.randrange(len(open_jobs)))
            t += rng.uniform(0.001, 0.05)
            if rng.random() < 0.85:
                elapsed = round(rng.choice([rng.uniform(0, 0.1), rng.uniform(0, 2), rng.uniform(0, 9)]), 3)
                elapsed = rng.choice([elapsed, 0.5, 1.0])  # values on bucket bounds, too
                line({"level": 30, "ts": round(t, 3), "msg": "job finished", "ctx": {"job": {"id": job["id"]}},
                      "elapsed_s": elapsed})
                add("jobs_total", {"queue": job["queue"], "route": route, "outcome": "done"}, 1)
                observe(job["queue"], elapsed)
            else:
                err = rng.choice(["TimeoutError", "ValidationError", "TypeError", None])
                entry = {"level": rng.choice([50, 60]), "ts": round(t, 3), "msg": "job crashed",
                         "ctx": {"job": {"id": job["id"]}}}
                if err:
                    entry["err"] = {"type": err, "message": "boom"}
                line(entry)
                add("jobs_total", {"queue": job["queue"], "route": route, "outcome": "crashed"}, 1)
                add("job_errors_total", {"queue": job["queue"],
                                         "error_type": ERRORS.get(err, "other") if err else "unknown"}, 1)
    # A crash logged at level 40 is not a crash by the mapping's condition.
    line({"level": 40, "ts": round(t + 1, 3), "msg": "job crashed", "ctx": {"job": {"id": "j-0"}}})
    for job, _ in open_jobs:
        add("jobs_in_progress", {"queue": job["queue"]}, 1)
    for q in QUEUES:  # a gauge series stays once made, at 0 when its jobs ended
        add("jobs_in_progress", {"queue": q}, 0)
    with open(log_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return len(lines), want


def mapped(samples):
    names = ("jobs_total", "job_duration_seconds", "job_errors_total", "jobs_in_progress")
    return {k: v for k, v in samples.items() if k[0].startswith(names)}



def test_served_live_equals_the_generator():
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "worker.log")
        lines, want = generate(log)
        with Exporter(["--start-at", "beginning", "--config.file", MAPPING, "--correlation.max-age", "100000d",
                       log]) as e:
            samples = e.wait_for_lines(lines)
            problems = differences(mapped(samples), want)
            assert not problems, "\n".join(problems[:20])
            skipped = {dict(k[1])["reason"]: v for k, v in samples.items()
                       if k[0] == "ailog_exporter_lines_skipped_total"}
            assert skipped["not_matched"] > 0


def test_replayed_equals_the_generator():
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "worker.log")
        _, want = generate(log, seed=12)
        r = subprocess.run([binary(), "replay", "--config.file", MAPPING, "--output", "prometheus", "-q",
                            "--correlation.max-age", "100000d", log], capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr
        problems = differences(mapped(parse_exposition(r.stdout.decode())), want)
        assert not problems, "\n".join(problems[:20])


if __name__ == "__main__":
    run_tests([test_served_live_equals_the_generator, test_replayed_equals_the_generator])
