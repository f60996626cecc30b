#!/usr/bin/env python3
"""The monitoring stack around the exporter: prometheus/ (configuration,
recording and alerting rules, their promtool unit tests), grafana/
(provisioning, dashboard), docker-compose.yml and Dockerfile.

Docker and Grafana are not run. What can be checked without them is:
promtool on every Prometheus file; the YAML and JSON files parse; every path
they refer to exists in the repository (container paths mapped back through
the compose mounts); the dashboard's structure; and, live, the real exporter
fed a growing log, scraped by the real prometheus binary (exemplar storage
on) with the repository's configuration and rules, answering every dashboard
query and every recording rule with data -- with the built-in mapping all
but the Cost row, whose queries answer empty; with
examples/executeparse-extended.yml all of them, and every variable has
values -- holding the exporter's figures (cost included) once the log stops,
and exemplars of OpenMetrics that each name a call of the log, with its time
and its figure; and README.md's backfill steps run on a generated history,
after which every model-call query of the dashboard answers about that past,
with the figures of the log.

Usage: AILOG_EXPORTER=build/ailog_exporter python3 tests/e2e/test_monitoring.py [test_name ...]
"""

import datetime
import glob
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, Exporter, binary, free_port, generate, run_tests, value, wait_until  # noqa: E402

PROM_DIR = os.path.join(ROOT, "prometheus")
PROM_CONFIG = os.path.join(PROM_DIR, "prometheus.yml")
RULE_FILES = sorted(glob.glob(os.path.join(PROM_DIR, "rules", "*.yml")))
RULE_TESTS = sorted(glob.glob(os.path.join(PROM_DIR, "tests", "*.yml")))
GRAFANA_DIR = os.path.join(ROOT, "grafana")
DATASOURCES = os.path.join(GRAFANA_DIR, "provisioning", "datasources", "prometheus.yml")
DASHBOARD_PROVIDERS = os.path.join(GRAFANA_DIR, "provisioning", "dashboards", "dashboards.yml")
DASHBOARD = os.path.join(GRAFANA_DIR, "dashboards", "ailog-exporter.json")
COMPOSE = os.path.join(ROOT, "docker-compose.yml")
DOCKERFILE = os.path.join(ROOT, "Dockerfile")
DOCKERIGNORE = os.path.join(ROOT, ".dockerignore")
DOCS = os.path.join(ROOT, "README.md")

EXTENDED_MAPPING = os.path.join(ROOT, "examples", "executeparse-extended.yml")

# What the dashboard's queries get for Grafana's own variables; its template
# variables get their "All" value (allValue), as on a dashboard left at All.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__range": "1h",
    "$__interval": "15s",
}
# The counter that only the extended mapping (examples/executeparse-extended.yml)
# has: the queries on it answer empty, not in error, with the built-in mapping.
COST_METRIC = "openai_api_cost_usd_total"


def tool(name):
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} is not installed (Debian package prometheus)")
    return path


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    return r.returncode, (r.stdout + r.stderr).strip()


# ---------------------------------------------------------------------------
# A YAML reader for the subset these files use (block mappings and sequences,
# flow collections on one line, plain and quoted scalars, | and > block
# scalars), so that the checks run where PyYAML is not installed. Anything
# outside the subset is an error, not a guess; where PyYAML is installed both
# must agree on every file.

class YAMLError(Exception):
    pass


_INT = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
_FLOAT = re.compile(r"^[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?$")


def _plain(s):
    if s in ("", "~", "null", "Null", "NULL"):
        return None
    if s in ("true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"):
        return True
    if s in ("false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"):
        return False
    if _INT.match(s):
        return int(s.replace("_", ""))
    if _FLOAT.match(s) and s not in (".", "+.", "-."):
        return float(s.replace("_", ""))
    if s in (".inf", ".Inf", "+.inf"):
        return math.inf
    if s in ("-.inf", "-.Inf"):
        return -math.inf
    if s[0] in "&*!%@`|>":
        raise YAMLError(f"unsupported YAML construct: {s!r}")
    return s


def _quoted(s, i):
    """The quoted scalar starting at s[i]; returns (value, index after it)."""
    q = s[i]
    j = i + 1
    if q == "'":
        out = []
        while True:
            k = s.find("'", j)
            if k < 0:
                raise YAMLError(f"unterminated string: {s!r}")
            out.append(s[j:k])
            if s.startswith("''", k):
                out.append("'")
                j = k + 2
            else:
                return "".join(out), k + 1
    while j < len(s):
        if s[j] == "\\":
            j += 2
        elif s[j] == '"':
            try:
                return json.loads(s[i:j + 1]), j + 1
            except ValueError as e:
                raise YAMLError(f"bad double-quoted string {s[i:j + 1]!r}: {e}")
        else:
            j += 1
    raise YAMLError(f"unterminated string: {s!r}")


def _strip_comment(s):
    """s without a trailing comment (a # after a space, outside quotes)."""
    i = 0
    while i < len(s):
        c = s[i]
        if c in "'\"" and (i == 0 or s[i - 1] in " [{,:"):
            _, i = _quoted(s, i)
            continue
        if c == "#" and (i == 0 or s[i - 1] == " "):
            return s[:i].rstrip()
        i += 1
    return s.rstrip()


def _flow(s, i=0):
    """A flow value starting at s[i]; returns (value, index after it)."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        raise YAMLError(f"truncated flow collection: {s!r}")
    c = s[i]
    if c in "[{":
        close = "]" if c == "[" else "}"
        out = [] if c == "[" else {}
        i += 1
        while True:
            while i < len(s) and s[i] == " ":
                i += 1
            if i < len(s) and s[i] == close:
                return out, i + 1
            if c == "[":
                v, i = _flow(s, i)
                out.append(v)
            else:
                k, i = _flow(s, i)
                while i < len(s) and s[i] == " ":
                    i += 1
                if i >= len(s) or s[i] != ":":
                    raise YAMLError(f"expected ':' in flow mapping: {s!r}")
                v, i = _flow(s, i + 1)
                out[k] = v
            while i < len(s) and s[i] == " ":
                i += 1
            if i < len(s) and s[i] == ",":
                i += 1
            elif i < len(s) and s[i] == close:
                return out, i + 1
            else:
                raise YAMLError(f"bad flow collection: {s!r}")
    if c in "'\"":
        return _quoted(s, i)
    j = i
    while j < len(s) and s[j] not in ",]}" and not (s[j] == ":" and (j + 1 == len(s) or s[j + 1] == " ")):
        j += 1
    return _plain(s[i:j].strip()), j


def _inline(s):
    s = _strip_comment(s.strip())
    if not s:
        return None
    if s[0] in "[{'\"":
        v, end = _flow(s)
        if s[end:].strip():
            raise YAMLError(f"trailing content after value: {s!r}")
        return v
    return _plain(s)


def _split_key(s):
    """(key, rest) when s is 'key: rest' or 'key:', else None."""
    if s[0] in "'\"":
        key, i = _quoted(s, 0)
    else:
        m = re.match(r"^([^\s:#\[\]{},][^:#]*?|[^\s:#\[\]{},]):(\s|$)", s)
        if not m:
            return None
        key, i = m.group(1).strip(), len(m.group(1))
        key = _plain(key)
    if not s.startswith(":", i) or (i + 1 < len(s) and s[i + 1] != " "):
        return None
    return key, s[i + 1:]


class _Reader:
    def __init__(self, text):
        self.lines = text.replace("\r\n", "\n").split("\n")
        self.i = 0

    def peek(self):
        """(indent, content) of the next meaningful line, or None."""
        while self.i < len(self.lines):
            line = self.lines[self.i]
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                if stripped == "---" or stripped == "...":
                    raise YAMLError("multiple documents are not supported")
                lead = line[:len(line) - len(line.lstrip(" \t"))]
                if "\t" in lead:
                    raise YAMLError(f"line {self.i + 1}: tab in indentation")
                return len(lead), stripped
            self.i += 1
        return None

    def node(self, indent):
        nxt = self.peek()
        if nxt is None:
            return None
        if nxt[1] == "-" or nxt[1].startswith("- "):
            return self.sequence(nxt[0])
        return self.mapping(nxt[0])

    def block_scalar(self, header, parent_indent):
        style, chomp = header[0], header[1:].strip()
        if chomp not in ("", "-"):
            raise YAMLError(f"line {self.i + 1}: unsupported block scalar header {header!r}")
        self.i += 1
        body, block_indent = [], None
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.strip() == "":
                body.append("")
                self.i += 1
                continue
            ind = len(line) - len(line.lstrip(" "))
            if block_indent is None:
                if ind <= parent_indent:
                    break
                block_indent = ind
            if ind < block_indent:
                break
            if style == ">" and ind > block_indent:
                raise YAMLError(f"line {self.i + 1}: more-indented lines in a folded scalar are not supported")
            body.append(line[block_indent:])
            self.i += 1
        while body and body[-1] == "":
            body.pop()
        if style == "|":
            text = "\n".join(body)
        else:
            text, pending_blank = "", False
            for b in body:
                if b == "":
                    text += "\n"
                    pending_blank = True
                else:
                    text += ("" if not text or pending_blank else " ") + b
                    pending_blank = False
        return text + ("" if chomp == "-" or not body else "\n")

    def value_after(self, rest, indent):
        """The value of 'key: rest' (or '- rest') on the current line."""
        rest = rest.strip()
        if rest[:1] in ("|", ">"):
            return self.block_scalar(_strip_comment(rest), indent)
        self.i += 1
        if _strip_comment(rest):
            v = _inline(rest)
            nxt = self.peek()
            if nxt is not None and nxt[0] > indent:
                raise YAMLError(f"line {self.i + 1}: multi-line plain scalars are not supported")
            return v
        nxt = self.peek()
        if nxt is None:
            return None
        if nxt[0] > indent:
            return self.node(nxt[0])
        if nxt[0] == indent and (nxt[1] == "-" or nxt[1].startswith("- ")):
            return self.sequence(indent)
        return None

    def mapping(self, indent):
        out = {}
        while True:
            nxt = self.peek()
            if nxt is None or nxt[0] < indent:
                return out
            if nxt[0] > indent:
                raise YAMLError(f"line {self.i + 1}: unexpected indentation")
            if nxt[1] == "-" or nxt[1].startswith("- "):
                return out
            kv = _split_key(nxt[1])
            if kv is None:
                raise YAMLError(f"line {self.i + 1}: expected 'key: value', got {nxt[1]!r}")
            key, rest = kv
            if key in out:
                raise YAMLError(f"line {self.i + 1}: duplicate key {key!r}")
            out[key] = self.value_after(rest, indent)

    def sequence(self, indent):
        out = []
        while True:
            nxt = self.peek()
            if nxt is None or nxt[0] < indent or not (nxt[1] == "-" or nxt[1].startswith("- ")):
                if nxt is not None and nxt[0] > indent:
                    raise YAMLError(f"line {self.i + 1}: unexpected indentation")
                return out
            if nxt[0] > indent:
                raise YAMLError(f"line {self.i + 1}: unexpected indentation")
            item = nxt[1][1:]
            col = indent + 1 + (len(item) - len(item.lstrip(" ")))
            item = item.strip()
            if not item or item.startswith("#"):
                self.i += 1
                sub = self.peek()
                out.append(self.node(sub[0]) if sub is not None and sub[0] > indent else None)
            elif item[0] not in "[{" and _split_key(item) is not None:
                # "- key: value": a mapping whose keys sit at the item's column.
                self.lines[self.i] = " " * col + item
                out.append(self.mapping(col))
            else:
                out.append(self.value_after(item, indent))


def load_yaml(path):
    """The file parsed by the reader above, checked against PyYAML if present."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    reader = _Reader(text)
    try:
        data = reader.node(0)
        if reader.peek() is not None:
            raise YAMLError(f"line {reader.i + 1}: content after the document")
    except YAMLError as e:
        raise AssertionError(f"{os.path.relpath(path, ROOT)}: {e}")
    try:
        import yaml
    except ImportError:
        return data
    reference = yaml.safe_load(text)
    assert data == reference, f"{os.path.relpath(path, ROOT)}: the YAML reader and PyYAML disagree"
    return data


def yaml_files():
    # prometheus/*.yml: prometheus.yml and kubernetes.yml (promtool checks the latter in test_kubernetes.py).
    files = [COMPOSE, DATASOURCES, DASHBOARD_PROVIDERS] + glob.glob(os.path.join(PROM_DIR, "*.yml"))
    files += RULE_FILES + RULE_TESTS
    files += glob.glob(os.path.join(GRAFANA_DIR, "provisioning", "**", "*.y*ml"), recursive=True)
    return sorted(set(files))


def rules():
    """[(group, rule)] of every rule file."""
    out = []
    for path in RULE_FILES:
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                out.append((group["name"], rule))
    return out


def dashboard():
    with open(DASHBOARD, encoding="utf-8") as f:
        return json.load(f)


def all_panels(d):
    for p in d["panels"]:
        yield p
        for q in p.get("panels", []):  # a collapsed row holds its panels
            yield q


def dashboard_queries(d):
    """[(panel title, refId, expr)] of every target."""
    return [(p["title"], t.get("refId", "?"), t["expr"])
            for p in all_panels(d) for t in p.get("targets", []) if "expr" in t]


def all_values(d=None):
    """{"$name": value} of the dashboard's template variables left at All."""
    out = {}
    for v in (d or dashboard())["templating"]["list"]:
        assert v.get("includeAll") and isinstance(v.get("allValue"), str), \
            f"${v['name']}: no All value to substitute (includeAll, allValue)"
        out["$" + v["name"]] = v["allValue"]
    return out


def substitute(expr, selected=None):
    """expr as Grafana sends it: its own variables, the template variables at
    All, except those `selected` ({"$name": regex}) gives."""
    values = {**GRAFANA_VARIABLES, **all_values(), **(selected or {})}
    for k in sorted(values, key=len, reverse=True):
        expr = expr.replace(k, values[k])
    assert "$" not in expr, f"unknown Grafana variable in {expr!r}"
    return expr


# ---------------------------------------------------------------------------
# Paths: compose's bind mounts map container paths back to the repository.

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-([^}]*))?\}")


def expand(s):
    """Compose interpolation with the defaults (no variable is set)."""
    return _VAR.sub(lambda m: m.group(3) or "", s).replace("$$", "$")


def mounts(service):
    """[(container path, repository path or None for a named volume)]."""
    out = []
    for v in service.get("volumes", []):
        assert isinstance(v, str), f"long volume syntax is not checked: {v!r}"
        parts = expand(v).split(":")
        src, dst = parts[0], parts[1]
        if src.startswith((".", "/", "~")):
            out.append((dst, os.path.normpath(os.path.join(ROOT, src))))
        else:
            out.append((dst, None))
    return out


def in_repo(service, container_path):
    """The repository path a container path comes from; None if it is on a
    named volume; AssertionError if no mount provides it."""
    best = None
    for dst, src in mounts(service):
        if container_path == dst or container_path.startswith(dst.rstrip("/") + "/"):
            if best is None or len(dst) > len(best[0]):
                best = (dst, src)
    assert best is not None, f"{container_path} is not on any volume of the service"
    dst, src = best
    if src is None:
        return None
    return os.path.normpath(src + container_path[len(dst):])


def dockerignored(rel):
    """Whether .dockerignore keeps rel (a path relative to the root) out of the build context."""
    import fnmatch
    with open(DOCKERIGNORE) as f:
        patterns = [x.strip() for x in f if x.strip() and not x.startswith("#")]
    parts = rel.split("/")
    excluded = False
    for p in patterns:
        negate = p.startswith("!")
        p = p.lstrip("!")
        candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if p.startswith("**/"):
            candidates = ["/".join(parts[j:i]) for i in range(1, len(parts) + 1) for j in range(i)]
            p = p[3:]
        if any(fnmatch.fnmatch(c, p) for c in candidates):
            excluded = not negate
    return excluded


# ---------------------------------------------------------------------------
# Static checks


def test_promtool_check_config():
    promtool = tool("promtool")
    # As it is (its rule_files are relative to it) ...
    rc, out = run([promtool, "check", "config", PROM_CONFIG])
    assert rc == 0, out
    assert f"{len(RULE_FILES)} rule files found" in out, out
    # ... and as a copy elsewhere, with the paths rewritten.
    with tempfile.TemporaryDirectory(prefix="ailog-mon-") as tmp:
        copy = os.path.join(tmp, "prometheus.yml")
        with open(copy, "w") as f:
            f.write(rewrite_config(exporter="127.0.0.1:7467", prometheus="127.0.0.1:9090"))
        rc, out = run([promtool, "check", "config", copy])
        assert rc == 0, out
        assert f"{len(RULE_FILES)} rule files found" in out, out


def test_promtool_rules():
    promtool = tool("promtool")
    assert RULE_FILES and RULE_TESTS
    rc, out = run([promtool, "check", "rules"] + RULE_FILES)
    assert rc == 0, out
    rc, out = run([promtool, "test", "rules"] + RULE_TESTS)
    assert rc == 0, out
    assert out.count("SUCCESS") == len(RULE_TESTS), out


def test_rules_are_complete():
    """Every alert has for, a severity, a summary and a description, and
    unit tests that see it fire and not fire; every recording rule is tested."""
    tests = [t for path in RULE_TESTS for t in load_yaml(path)["tests"]]
    fired, silent, tested_exprs = set(), set(), []
    for t in tests:
        for a in t.get("alert_rule_test") or []:
            (fired if a.get("exp_alerts") else silent).add(a["alertname"])
        tested_exprs += [e["expr"] for e in t.get("promql_expr_test") or []]
    alerts = [r for _, r in rules() if "alert" in r]
    records = [r for _, r in rules() if "record" in r]
    assert alerts and records
    problems = []
    for r in alerts:
        name = r["alert"]
        if not r.get("for"):
            problems.append(f"{name}: no for")
        if r.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
            problems.append(f"{name}: no severity label")
        for a in ("summary", "description"):
            if not r.get("annotations", {}).get(a):
                problems.append(f"{name}: no {a} annotation")
        if name not in fired:
            problems.append(f"{name}: no test where it fires")
        if name not in silent:
            problems.append(f"{name}: no test where it does not fire")
    for r in records:
        if not any(re.search(r"\b" + re.escape(r["record"]) + r"\b", e) for e in tested_exprs):
            problems.append(f"{r['record']}: no promql_expr_test")
    assert not problems, "\n".join(problems)


def test_yaml_parses():
    checked = 0
    for path in yaml_files():
        data = load_yaml(path)
        assert isinstance(data, dict) and data, f"{path}: not a mapping"
        checked += 1
    try:
        import yaml  # noqa: F401
        how = "this reader and PyYAML"
    except ImportError:
        how = "this reader only (PyYAML is not installed)"
    print(f"     {checked} YAML files parsed by {how}")


def test_grafana_provisioning():
    ds = load_yaml(DATASOURCES)
    assert ds["apiVersion"] == 1
    [source] = ds["datasources"]
    assert source["type"] == "prometheus" and source["uid"] == "prometheus", source
    compose = load_yaml(COMPOSE)["services"]
    url = urllib.parse.urlsplit(source["url"])
    assert url.hostname in compose, f"{source['url']}: no compose service {url.hostname}"
    listen = [w.split("=", 1)[1] for w in compose[url.hostname].get("command", [])
              if w.startswith("--web.listen-address=")]
    port = int(listen[0].rsplit(":", 1)[1]) if listen else 9090  # Prometheus's default
    assert url.port == port, f"{source['url']}: Prometheus listens on {port}"

    providers = load_yaml(DASHBOARD_PROVIDERS)
    assert providers["apiVersion"] == 1
    [provider] = providers["providers"]
    assert provider["type"] == "file"
    repo_dir = in_repo(compose["grafana"], provider["options"]["path"])
    assert repo_dir is not None and os.path.isdir(repo_dir), provider["options"]["path"]
    assert os.path.samefile(os.path.join(repo_dir, os.path.basename(DASHBOARD)), DASHBOARD)
    # The provisioning directory itself is mounted where Grafana reads it.
    assert os.path.samefile(in_repo(compose["grafana"], "/etc/grafana/provisioning"),
                            os.path.join(GRAFANA_DIR, "provisioning"))


def test_compose_paths_exist():
    compose = load_yaml(COMPOSE)
    services = compose["services"]
    named = set(compose.get("volumes") or {})
    for wanted in ("ailog-exporter", "prometheus", "grafana"):
        assert wanted in services, f"no {wanted} service"
    problems = []
    for name, svc in services.items():
        build = svc.get("build")
        if build is not None:
            context = build if isinstance(build, str) else build.get("context", ".")
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            if not os.path.isfile(os.path.join(ROOT, context, dockerfile)):
                problems.append(f"{name}: no {dockerfile} in {context}")
        for dst, src in mounts(svc):
            if src is None:
                vol = [expand(v).split(":")[0] for v in svc["volumes"] if expand(v).split(":")[1] == dst][0]
                if vol not in named:
                    problems.append(f"{name}: volume {vol} is not declared")
            elif not src.startswith(ROOT + os.sep):
                problems.append(f"{name}: {src} is outside the repository")
            elif not os.path.exists(src):
                problems.append(f"{name}: {os.path.relpath(src, ROOT)} does not exist")
        # Container paths in the command and the environment.
        words = [expand(w) for w in (svc.get("command") or []) if isinstance(w, str)]
        words += [expand(str(v)) for v in (svc.get("environment") or {}).values()]
        for w in words:
            for path in re.findall(r"(?:^|=)(/(?:etc|var|prometheus|state|logs)[^\s=]*)", w):
                try:
                    repo = in_repo(svc, path)
                except AssertionError as e:
                    problems.append(f"{name}: {e}")
                    continue
                if repo is not None and not os.path.exists(repo):
                    problems.append(f"{name}: {path} -> {os.path.relpath(repo, ROOT)} does not exist")
    # The exporter reads /logs and keeps its state on a volume.
    exporter = services["ailog-exporter"]
    assert exporter["command"] == ["serve", "--state.file", "/state/state.json", "/logs"], exporter["command"]
    in_repo(exporter, "/logs")
    in_repo(exporter, "/state/state.json")
    # Prometheus's configuration and rule files, through its mounts.
    prom = services["prometheus"]
    config_flag = [w for w in prom["command"] if w.startswith("--config.file=")]
    assert config_flag, "prometheus: no --config.file"
    config = in_repo(prom, config_flag[0].split("=", 1)[1])
    assert os.path.samefile(config, PROM_CONFIG), config
    for pattern in load_yaml(PROM_CONFIG)["rule_files"]:
        matched = glob.glob(os.path.join(os.path.dirname(config), pattern))
        if sorted(map(os.path.realpath, matched)) != sorted(map(os.path.realpath, RULE_FILES)):
            problems.append(f"rule_files {pattern} matches {matched}, not {RULE_FILES}")
    # The scrape target is the exporter's service, on its port.
    targets = [t for job in load_yaml(PROM_CONFIG)["scrape_configs"] if job["job_name"] == "ailog_exporter"
               for sc in job["static_configs"] for t in sc["targets"]]
    assert targets == ["ailog-exporter:7467"], targets
    assert problems == [], "\n".join(problems)


def test_dockerfile():
    with open(DOCKERFILE) as f:
        text = re.sub(r"\\\n", " ", f.read())
    lines = [x.strip() for x in text.split("\n") if x.strip() and not x.strip().startswith("#")]
    froms = [x.split()[1] for x in lines if x.upper().startswith("FROM ")]
    assert froms and all(f == "debian:12-slim" for f in froms) and len(froms) == 2, froms
    build_stage = text.split("\nFROM ")[1]
    assert "setup-debian.sh" in build_stage, "the build stage does not install scripts/setup-debian.sh's packages"
    assert "meson setup build && meson compile -C build" in build_stage
    # COPY sources exist and are in the build context.
    for x in lines:
        if x.upper().startswith("COPY ") and "--from=" not in x:
            for src in x.split()[1:-1]:
                if src != ".":
                    assert os.path.exists(os.path.join(ROOT, src)), f"COPY {src}: missing"
                    assert not dockerignored(src), f"COPY {src}: excluded by .dockerignore"
    for needed in ("meson.build", "meson_options.txt", "src/cli/main.cpp", "include", "tests/meson.build",
                   "scripts/setup-debian.sh", "scripts/embed_text.py", "examples/executeparse.yml"):
        assert not dockerignored(needed), f".dockerignore excludes {needed}, which the build needs"
    # The runtime stage installs exactly what the binary links, beyond the base image.
    runtime = text.split("\nFROM ")[2]
    m = re.search(r"apt-get install -y --no-install-recommends ([^&]+)", runtime)
    assert m, "no apt-get install in the runtime stage"
    packages = set(m.group(1).split())
    # tzdata: the zone database --input.timezone reads, a data package the binary does not link.
    assert packages == {"libsimdjson14", "libspdlog1.10", "libfmt9", "libmicrohttpd12", "libgnutls30", "libcrypt1",
                        "zlib1g", "libdate-tz3", "libyaml-cpp0.7", "libre2-9", "tzdata"}, packages
    assert "ENTRYPOINT [\"/usr/local/bin/ailog_exporter\"]" in runtime
    assert 'CMD ["serve", "--state.file", "/state/state.json", "/logs"]' in runtime
    binary = os.environ.get("AILOG_EXPORTER")
    if shutil.which("ldd") and shutil.which("dpkg") and binary:
        rc, out = run(["ldd", binary])
        assert rc == 0, out
        base = {"libc6", "libstdc++6", "libgcc-s1"}
        # The libraries the binary names itself; apt brings what they need in turn.
        rc, dynamic = run(["readelf", "-d", binary])
        assert rc == 0, dynamic
        needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
        assert needed, dynamic
        for name, lib in re.findall(r"^\s*(\S+) => (/\S+)", out, re.M):
            if name not in needed:
                continue
            if re.search(r"/lib(asan|ubsan|lsan|tsan)\.so", lib):
                continue  # a sanitizer build's runtime, not part of the image
            rc, owner = run(["dpkg", "-S", os.path.realpath(lib)])
            if rc != 0:  # usrmerge: the package may list /lib rather than /usr/lib
                rc, owner = run(["dpkg", "-S", os.path.realpath(lib).replace("/usr/lib/", "/lib/", 1)])
            assert rc == 0, f"{lib}: no package owns it ({owner})"
            pkg = owner.split(":")[0]
            assert pkg in packages | base, f"{lib} comes from {pkg}, which the runtime stage does not install"
        for pkg in packages:
            rc, out = run(["dpkg-query", "-W", "-f=${Package}", pkg])
            assert rc == 0 and out == pkg, f"{pkg}: not a Debian package on this machine ({out})"


# The template variables, in their order; every model-call selector filters on all of them.
FILTERS = ("capability", "operation", "prompt_version", "model")


def test_dashboard_structure():
    d = dashboard()
    assert d["schemaVersion"] == 39 and d["uid"] and d["title"]
    ds_uid = load_yaml(DATASOURCES)["datasources"][0]["uid"]
    problems = []
    data_panels = [p for p in all_panels(d) if p["type"] != "row"]
    assert len(data_panels) >= 20, len(data_panels)
    # Recorded series exist only from when Prometheus evaluated the rules:
    # history backfilled with replay has none, so panels compute from the raw series.
    recorded = sorted(r["record"] for _, r in rules() if "record" in r)
    cells = {}
    for p in d["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    problems.append(f"{p['title']} overlaps {cells[(x, y)]}")
                cells[(x, y)] = p["title"]
    for p in data_panels:
        t = p["title"]
        if p["type"] not in ("timeseries", "stat"):
            problems.append(f"{t}: type {p['type']}")
        if p.get("datasource") != {"type": "prometheus", "uid": ds_uid}:
            problems.append(f"{t}: datasource {p.get('datasource')}")
        targets = [x for x in p.get("targets", []) if x.get("expr", "").strip()]
        if not targets:
            problems.append(f"{t}: no target")
        for x in targets:
            if x.get("datasource") not in (None, {"type": "prometheus", "uid": ds_uid}):
                problems.append(f"{t}: target datasource {x.get('datasource')}")
            e = x["expr"]
            # Every selector of a model-call series filters on every variable:
            # a series without the label (the built-in mapping has no
            # prompt_version or model) still matches, since All is ".*".
            for m in re.finditer(r"(openai_api_\w+)(\{[^}]*\})?", e):
                matchers = m.group(2) or ""
                missing = [n for n in FILTERS if f'{n}=~"${n}"' not in matchers]
                if missing:
                    problems.append(f"{t}: {m.group(0)!r} ignores {', '.join('$' + n for n in missing)}")
            used = [r for r in recorded if re.search(r"(?<![\w:])" + re.escape(r) + r"(?![\w:])", e)]
            if used:
                problems.append(f"{t}: reads the recorded series {used}, which backfilled history lacks")
            for m in re.finditer(r"histogram_quantile\(\s*[0-9.]+\s*,\s*(.*)", e, re.S):
                rest = m.group(1)
                if not (rest.startswith("sum by (le") or rest.startswith("sum by(le")):
                    problems.append(f"{t}: histogram_quantile without sum by (le, ...) first: {e!r}")
        if not p.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            problems.append(f"{t}: no unit")
        if not p.get("description"):
            problems.append(f"{t}: no description")
    variables = {v["name"]: v for v in d["templating"]["list"]}
    if list(variables) != list(FILTERS):
        problems.append(f"variables {list(variables)}, expected {list(FILTERS)}")
    for name in FILTERS:
        v = variables.get(name)
        if v is None:
            problems.append(f"no ${name} variable")
            continue
        if not (v["type"] == "query" and v["multi"] and v["includeAll"]):
            problems.append(f"${name}: not a multi-value query variable with All")
        # All must match an absent label (the built-in mapping's series have no
        # prompt_version or model): ".*" does; Grafana's default, a regex of
        # the values found, does not, nor does ".+".
        if v.get("allValue") != ".*":
            problems.append(f"${name}: allValue {v.get('allValue')!r}, not '.*'")
        if not re.fullmatch(r"label_values\(openai_api_requests_total(\{[^}]*\})?, " + name + r"\)", v["definition"]):
            problems.append(f"${name}: {v['definition']}")
        if v["query"].get("query") != v["definition"]:
            problems.append(f"${name}: query {v['query'].get('query')!r} is not its definition")
        if v.get("datasource") != {"type": "prometheus", "uid": ds_uid}:
            problems.append(f"${name}: datasource {v.get('datasource')}")
    # The rows in the order the questions come: up, failing, slow, tokens,
    # cost, exporter.
    rows = [p["title"] for p in d["panels"] if p["type"] == "row"]
    order = ["up", "failing", "slow", "tokens", "cost", "exporter"]
    if [next((w for w in order if w in r.lower()), None) for r in rows] != order:
        problems.append(f"rows {rows}")

    # Each data panel under the row above it (panels sorted by position).
    row_of, current = {}, None
    for p in sorted(d["panels"], key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"])):
        if p["type"] == "row":
            current = p["title"]
        else:
            row_of[p["title"]] = current
    cost_row = next((r for r in rows if "cost" in r.lower()), None)

    def exprs(p):
        return [x.get("expr", "") for x in p.get("targets", [])]

    # The Cost row: USD per hour, per day, over the time range, by model, by
    # capability, all in currencyUSD; and the unpriced entries.
    cost_panels = [p for p in data_panels if any(COST_METRIC in e for e in exprs(p))]
    for p in cost_panels:
        if row_of[p["title"]] != cost_row:
            problems.append(f"{p['title']}: reads {COST_METRIC} outside the Cost row")
        if p["fieldConfig"]["defaults"].get("unit") != "currencyUSD":
            problems.append(f"{p['title']}: unit {p['fieldConfig']['defaults'].get('unit')}, not currencyUSD")
    cost_exprs = [re.sub(r"\s+", " ", e) for p in cost_panels for e in exprs(p)]
    for what, pattern in (("USD per hour",
                           r"^sum\(rate\(" + COST_METRIC + r"\{[^}]*\}\[\$__rate_interval\]\)\) \* 3600$"),
                          ("USD per day", r"^sum\(increase\(" + COST_METRIC + r"\{[^}]*\}\[(1d|24h)\]\)\)$"),
                          ("USD in the time range", r"^sum\(increase\(" + COST_METRIC + r"\{[^}]*\}\[\$__range\]\)\)$"),
                          ("cost by model", r"^sum by \(model\) \(rate\(" + COST_METRIC),
                          ("cost by capability", r"^sum by \(capability\b")):
        if not any(re.search(pattern, e) for e in cost_exprs):
            problems.append(f"Cost row: no {what} query")
    unpriced = [p for p in data_panels if any("ailog_exporter_unpriced_entries_total" in e for e in exprs(p))]
    if not unpriced:
        problems.append("no panel shows ailog_exporter_unpriced_entries_total")
    for p in unpriced:
        if row_of[p["title"]] != cost_row:
            problems.append(f"{p['title']}: the unpriced entries belong in the Cost row")

    # Splits by model and by prompt version, with their label in the legend:
    # requests, and the P95 of durations.
    for label in ("model", "prompt_version"):
        for metric in ("openai_api_requests_total", "openai_api_request_duration_ms_bucket"):
            if not any(re.search(r"\bby \([^)]*\b" + label + r"\b", x["expr"]) and metric in x["expr"]
                       and "{{" + label + "}}" in x.get("legendFormat", "")
                       for p in data_panels for x in p.get("targets", []) if "expr" in x):
                problems.append(f"no panel splits {metric} by {label} (with {{{{{label}}}}} in its legend)")

    # Duration panels show exemplars: every time series panel with a quantile
    # of the duration buckets has one such target with "exemplar": true (one:
    # each target that asks draws the same calls again). Only time series
    # panels draw them.
    for p in data_panels:
        flagged = [x for x in p.get("targets", []) if x.get("exemplar")]
        quantiles = [x for x in p.get("targets", [])
                     if "histogram_quantile" in x.get("expr", "")
                     and "openai_api_request_duration_ms_bucket" in x["expr"]]
        if p["type"] != "timeseries":
            if flagged:
                problems.append(f"{p['title']}: exemplars on a {p['type']} panel, which does not draw them")
            continue
        if quantiles and len(flagged) != 1:
            problems.append(f"{p['title']}: {len(flagged)} targets with \"exemplar\": true, expected one")
        for x in flagged:
            if x not in quantiles:
                problems.append(f"{p['title']} {x.get('refId')}: exemplars on a target that is no duration quantile")
    # Seed 000's six panels are all there.
    titles = {p["title"] for p in data_panels}
    for seed_panel in ("Request volume", "Success rate", "Request duration", "Error rate", "Token usage",
                       "Requests (last 1 h)"):
        if seed_panel not in titles:
            problems.append(f"seed 000's panel {seed_panel!r} is missing")
    assert not problems, "\n".join(problems)


def test_docs_cover_everything():
    with open(DOCS, encoding="utf-8") as f:
        docs = f.read()
    missing = [r["alert"] for _, r in rules() if "alert" in r and r["alert"] not in docs]
    missing += [p["title"] for p in all_panels(dashboard()) if p["type"] != "row" and p["title"] not in docs]
    for phrase in ("docker compose up", "promtool"):
        if phrase not in docs:
            missing.append(phrase)
    assert not missing, f"README.md does not mention: {missing}"


# ---------------------------------------------------------------------------
# The live stack: exporter, growing log, prometheus with the repository's
# configuration and rules.


def rewrite_config(exporter, prometheus):
    """prometheus.yml for the test: its targets, 1 s intervals, absolute rule paths.
    Each replaced text must occur exactly once, so that a change of the file
    breaks this test rather than silently escaping it."""
    with open(PROM_CONFIG) as f:
        text = f.read()
    rule_dir = os.path.join(PROM_DIR, "rules")
    for old, new in (('"ailog-exporter:7467"', f'"{exporter}"'),
                     ('"localhost:9090"', f'"{prometheus}"'),
                     ("scrape_interval: 15s", "scrape_interval: 1s"),
                     ("scrape_timeout: 10s", "scrape_timeout: 1s"),
                     ("evaluation_interval: 15s", "evaluation_interval: 1s"),
                     ("  - rules/*.yml", f"  - {rule_dir}/*.yml")):
        assert text.count(old) == 1, f"prometheus.yml: expected {old!r} once"
        text = text.replace(old, new)
    return text


class Appender(threading.Thread):
    """Appends the lines of a corpus to a log file, a batch at a time, as a service would."""

    def __init__(self, corpus, path, first, batch, period):
        super().__init__(daemon=True)
        with open(corpus, "rb") as f:
            self.lines = f.read().splitlines(keepends=True)
        self.path, self.batch, self.period = path, batch, period
        self.pos = 0
        self.stop_event = threading.Event()
        self.write(first)

    def write(self, n):
        chunk = self.lines[self.pos:self.pos + n]
        self.pos += len(chunk)
        with open(self.path, "ab") as f:
            f.write(b"".join(chunk))

    def run(self):
        while not self.stop_event.wait(self.period) and self.pos < len(self.lines):
            self.write(self.batch)

    def stop(self):
        self.stop_event.set()
        self.join(timeout=5)


class Prometheus:
    """The real prometheus binary on 127.0.0.1, its data in a temporary
    directory (or in `storage`), started with `args` besides its own, with
    the repository's prometheus.yml pointed at the exporter, or config_text."""

    def __init__(self, tmp, exporter_address, storage=None, args=(), config_text=None):
        binary = tool("prometheus")
        for attempt in range(3):
            self.port = free_port()
            self.base = f"http://127.0.0.1:{self.port}"
            self.config = os.path.join(tmp, "prometheus.yml")
            with open(self.config, "w") as f:
                f.write(config_text or rewrite_config(exporter_address, f"127.0.0.1:{self.port}"))
            self.log_path = os.path.join(tmp, f"prometheus-{attempt}.log")
            self._log = open(self.log_path, "wb")
            self.proc = subprocess.Popen(
                [binary, f"--config.file={self.config}",
                 f"--storage.tsdb.path={storage or os.path.join(tmp, f'data-{attempt}')}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn", *args],
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
            try:
                wait_until(self._ready, timeout=30, interval=0.1, what="prometheus /-/ready")
                return
            except AssertionError:
                if self.proc.poll() is None or "address already in use" not in self.log():
                    self.stop()
                    raise AssertionError(f"prometheus did not start: {self.log()[-2000:]}")
                self.stop()  # lost the port to someone else: try another
        raise AssertionError("prometheus: no free port")

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited with {self.proc.returncode}")
        with urllib.request.urlopen(self.base + "/-/ready", timeout=2) as r:
            return r.status == 200

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def api(self, path, **params):
        url = self.base + "/api/v1/" + path
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            body = json.load(e)
        if body.get("status") != "success":
            raise QueryError(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr, at=None):
        """An instant query, now or at `at` (Unix seconds)."""
        data = self.api("query", query=expr, **({} if at is None else {"time": f"{at:.3f}"}))
        assert data["resultType"] in ("vector", "scalar"), data["resultType"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class QueryError(Exception):
    pass


def log_calls(path):
    """What a winston log (ISO timestamps) says about each call: (ends, first
    ms, last ms), ends being {requestId: [end entry, ...]} with each end's
    time (epoch ms), capability, operation, status, promptVersion, logged
    duration, tokens and its start's time (None when no start was logged);
    first and last ms span every entry."""
    starts, ends, stamps = {}, {}, []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if not isinstance(e, dict) or not isinstance(e.get("message"), str) \
                    or not e["message"].startswith("executeParse - ") or not isinstance(e.get("timestamp"), str):
                continue
            try:
                stamp = datetime.datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
            except ValueError:
                continue
            ms = (stamp - _EPOCH) // datetime.timedelta(milliseconds=1)
            stamps.append(ms)
            msg, rid = e["message"], e.get("requestId")
            if msg == "executeParse - start":
                starts.setdefault(rid, ms)
                continue
            if msg == "executeParse - succeeded":
                status = "success"
            elif msg == "executeParse - failed" or msg.startswith("executeParse - failed "):
                status = "failure"
            else:
                continue
            result = e.get("result") if isinstance(e.get("result"), dict) else {}
            usage = result.get("usage") if isinstance(result.get("usage"), dict) else {}
            tokens = usage.get("tokens") if isinstance(usage.get("tokens"), dict) else {}
            ends.setdefault(rid, []).append({
                "ms": ms, "capability": e.get("capability"), "operation": e.get("operation"), "status": status,
                "prompt_version": e.get("promptVersion"), "duration": result.get("durationMs"),
                "tokens": {"input": tokens.get("input"), "output": tokens.get("output")},
                "start_ms": starts.get(rid)})
    assert stamps, f"{path}: no executeParse entry"
    return ends, min(stamps), max(stamps)


def check_exemplars(prom, log, extended):
    """The exemplars Prometheus stored from the exporter's OpenMetrics: each
    names a call of the log (request_id), at that call's end time, with the
    figure of that call: for a duration bucket its duration, which lies in
    the bucket; for requests 1; for tokens its tokens of that type."""
    ends, first_ms, last_ms = log_calls(log)
    # An hour either side: an exemplar outside the log's time range is
    # returned, and reported.
    start, end = first_ms / 1000 - 3600, max(last_ms / 1000, time.time()) + 3600
    bounds = sorted(float(s["metric"]["le"])
                    for s in prom.query("group by (le) (openai_api_request_duration_ms_bucket)"))
    assert bounds and bounds[-1] == math.inf, bounds
    problems, counts = [], {}

    def call_of(series, ex):
        """The end entry the exemplar names, or None (a problem noted)."""
        rid = ex["labels"].get("request_id")
        if set(ex["labels"]) != {"request_id"}:
            problems.append(f"exemplar labels {ex['labels']}, expected request_id alone")
        ts_ms = round(float(ex["timestamp"]) * 1000)
        if not first_ms <= ts_ms <= last_ms:
            problems.append(f"{rid}: exemplar time {ex['timestamp']} outside the log's "
                            f"{first_ms / 1000}..{last_ms / 1000}")
        for call in ends.get(rid, []):
            same = all(series.get(k) == call[k] for k in ("capability", "operation", "status") if k in series)
            if extended and "prompt_version" in series:
                same = same and series["prompt_version"] == (call["prompt_version"] or "none")
            if same and call["ms"] == ts_ms:
                return call
        problems.append(f"{series.get('__name__')}{{...}}: exemplar request_id={rid!r} at {ex['timestamp']} is no "
                        f"end entry of the log with the series' labels and that time")
        return None

    for name in ("openai_api_request_duration_ms_bucket", "openai_api_requests_total", "openai_api_tokens_total"):
        data = prom.api("query_exemplars", query=name, start=f"{start:.3f}", end=f"{end:.3f}")
        n = 0
        for group in data:
            series = group["seriesLabels"]
            for ex in group["exemplars"]:
                n += 1
                v = float(ex["value"])
                call = call_of(series, ex)
                if name.endswith("_bucket"):
                    le = float(series["le"])
                    below = max([b for b in bounds if b < le], default=0.0)
                    if not below < v <= le and not (below == 0.0 and v == 0.0):
                        problems.append(f"duration exemplar {v} in the bucket ({below}, {le}]")
                    if call is None:
                        continue
                    want = call["duration"]
                    if want is None and call["start_ms"] is not None:
                        want = call["ms"] - call["start_ms"]  # no durationMs logged: the time since its start
                    if want is None or not math.isclose(v, want, rel_tol=1e-9, abs_tol=1e-9):
                        problems.append(f"duration exemplar of {ex['labels']['request_id']}: {v}, its log says {want}")
                elif name == "openai_api_requests_total":
                    if v != 1:
                        problems.append(f"request exemplar value {v}, expected 1")
                elif call is not None and v != call["tokens"].get(series.get("type")):
                    problems.append(f"{series.get('type')} tokens exemplar of {ex['labels']['request_id']}: {v}, "
                                    f"its log says {call['tokens'].get(series.get('type'))}")
        counts[name] = n
    assert counts["openai_api_request_duration_ms_bucket"] > 0, \
        f"no exemplar for the duration buckets in Prometheus: {counts}"
    assert all(counts.values()), f"series without any exemplar in Prometheus: {counts}"
    assert not problems, f"{len(problems)} exemplar problem(s), the log and the buckets say otherwise:\n" + \
        "\n".join(problems[:20])
    return counts


def exporter_series(exporter, name):
    """{labels: value} of one metric, as the exporter serves it (text format)."""
    return {k[1]: v for k, v in exporter.samples().items() if k[0] == name}


def prometheus_series(prom, name, drop=("job", "instance", "service")):
    return {frozenset((k, v) for k, v in s["metric"].items() if k not in drop and k != "__name__"): float(s["value"][1])
            for s in prom.query(name)}


def live_stack(extended):
    """The exporter (the built-in mapping, or examples/executeparse-extended.yml)
    on a growing log, scraped by the real prometheus with the repository's
    configuration and rules and exemplar storage on; every dashboard query
    and every recording rule through Prometheus's API."""
    tmp = tempfile.mkdtemp(prefix="ailog-mon-")
    appender = exporter = prom = None
    try:
        corpus = os.path.join(tmp, "corpus.log")
        # About 90 s of appending; timestamps end near now.
        generate(corpus, corpus + ".json", "--lines", 36000, "--seed", 17, "--start", "now", "--rate", 200)
        log = os.path.join(tmp, "app.log")
        appender = Appender(corpus, log, first=3000, batch=100, period=0.25)
        appender.start()
        mapping = ["--config.file", EXTENDED_MAPPING] if extended else []
        exporter = Exporter(mapping + ["--start-at", "beginning", "--correlation.max-age", "100000d",
                                       "--state.file", os.path.join(tmp, "state.json"), "--state.interval", "1s", log])
        prom = Prometheus(tmp, exporter.address, args=["--enable-feature=exemplar-storage"])

        def scraped():
            r = prom.query('count_over_time(up{job="ailog_exporter"}[1m]) >= 3 and up{job="ailog_exporter"} == 1')
            return len(r) == 1
        wait_until(scraped, timeout=30, interval=0.2, what="three scrapes of the exporter with up == 1")

        # Every rule of the repository loaded, evaluated, healthy.
        expected = {r.get("alert") or r.get("record") for _, r in rules()}

        def rules_healthy():
            loaded = {r["name"]: r for g in prom.api("rules")["groups"] for r in g["rules"]}
            missing = expected - set(loaded)
            assert not missing, f"rules not loaded: {missing}"
            bad = {n: r.get("lastError") for n, r in loaded.items() if r["health"] == "err"}
            assert not bad, f"rules failing: {bad}"
            return all(r["health"] == "ok" for r in loaded.values())
        wait_until(rules_healthy, timeout=20, interval=0.2, what="every rule evaluated")

        # Every dashboard query, every recording rule's series and every
        # template variable must have data; polled until a deadline because
        # rates need two samples and recording rules one evaluation. The Cost
        # row's queries need the extended mapping's counter: with the
        # built-in mapping they must answer, and answer empty.
        d = dashboard()
        queries = [(f"panel {title!r} {ref}", substitute(expr)) for title, ref, expr in dashboard_queries(d)]
        empty = {w: e for w, e in queries if COST_METRIC in e} if not extended else {}
        assert extended or empty, f"no dashboard query reads {COST_METRIC}"
        checks = [(w, e) for w, e in queries if w not in empty]
        checks += [(f"recording rule {r['record']}", r["record"]) for _, r in rules() if "record" in r]
        pending = dict(checks)
        last = {}
        deadline = time.monotonic() + 30
        while pending and time.monotonic() < deadline:
            for what, expr in list(pending.items()):
                try:
                    result = prom.query(expr)
                except QueryError as e:
                    raise AssertionError(f"{what}: {expr!r} fails: {e}")
                values = [float(s["value"][1]) for s in result]
                last[what] = values
                if values and not any(math.isnan(v) for v in values):
                    del pending[what]
            if pending:
                time.sleep(0.5)
        assert not pending, "no data (or NaN) for:\n" + "\n".join(
            f"  {w}: {pending[w]!r} -> {last.get(w)}" for w in pending)
        for what, expr in empty.items():
            try:
                result = prom.query(expr)
            except QueryError as e:
                raise AssertionError(f"{what}: {expr!r} fails with the built-in mapping: {e}")
            assert result == [], f"{what}: {expr!r} has data with the built-in mapping: {result}"

        # The variables: all four have values with the extended mapping; with
        # the built-in one, prompt_version and model have none (their All, ".*",
        # matches the absent label).
        values = {}
        for v in d["templating"]["list"]:
            m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", v["definition"])
            assert m, v["definition"]
            values[v["name"]] = prom.api(f"label/{m.group(2)}/values", **{"match[]": substitute(m.group(1))})
        without = [] if extended else ["prompt_version", "model"]
        for name, found in values.items():
            if name in without:
                assert found == [], f"${name} has values {found} with the built-in mapping"
            else:
                assert found, f"variable ${name} has no values"

        # One model and one prompt version selected: every model-call query
        # answers, and what it splits by those labels is that model, that
        # prompt version.
        if extended:
            pick = {"model": values["model"][0], "prompt_version": values["prompt_version"][-1]}
            # As Grafana writes a value into a regex matcher: regex-escaped,
            # then escaped again for PromQL's double-quoted string.
            selected = {f"${k}": re.escape(v).replace("\\", "\\\\") for k, v in pick.items()}
            split = 0
            for title, ref, expr in dashboard_queries(d):
                if "openai_api_" not in expr:
                    continue
                try:
                    result = prom.query(substitute(expr, selected))
                except QueryError as e:
                    raise AssertionError(f"panel {title!r} {ref} with {pick}: fails: {e}")
                for s in result:
                    for k, v in pick.items():
                        if k in s["metric"]:
                            split += 1
                            assert s["metric"][k] == v, f"panel {title!r} {ref} with {pick}: a series of {s['metric']}"
            assert split, f"no dashboard query splits by model or prompt_version ({pick})"

        # A healthy exporter raises none of its own alerts, not even pending.
        active = prom.query('ALERTS{alertname=~"AilogExporter.*"}')
        assert not active, f"exporter alerts active on a healthy exporter: {[a['metric'] for a in active]}"

        # The log stops growing; once Prometheus has scraped everything the
        # exporter read, Prometheus holds the exporter's figures: the same
        # series and values (what Prometheus parsed from OpenMetrics, the
        # test from the text format).
        appender.stop()
        with open(log, "rb") as f:
            lines = f.read().count(b"\n")
        exporter.wait_for_lines(lines)
        read = value(exporter.samples(), "ailog_exporter_lines_read_total")
        wait_until(lambda: prom.query(f"ailog_exporter_lines_read_total == {read}"), timeout=15, interval=0.2,
                   what=f"a scrape of the exporter's {read} lines read")
        for name in ["openai_api_requests_total", "openai_api_tokens_total"] + ([COST_METRIC] if extended else []):
            served, stored = exporter_series(exporter, name), prometheus_series(prom, name)
            assert served and set(served) == set(stored), \
                f"{name}: the exporter serves {len(served)} series, Prometheus has {len(stored)}"
            diff = {k: (served[k], stored[k]) for k in served if served[k] != stored[k]}
            assert not diff, f"{name}: Prometheus differs from the exporter: {list(diff.items())[:5]}"
            (total,) = prom.query(f"sum({name})")
            assert math.isclose(float(total["value"][1]), math.fsum(served.values()), rel_tol=1e-9), \
                f"sum({name}) in Prometheus {total['value'][1]}, the exporter's sum {math.fsum(served.values())}"
        if extended:
            cost = math.fsum(exporter_series(exporter, COST_METRIC).values())
            assert cost > 0, cost

        # The target is up, its last scrape without error: Prometheus's strict
        # OpenMetrics parser took the exposition, exemplars and all.
        targets = [t for t in prom.api("targets")["activeTargets"] if t["labels"].get("job") == "ailog_exporter"]
        assert [(t["health"], t["lastError"]) for t in targets] == [("up", "")], targets
        counts = check_exemplars(prom, log, extended)
        # What Grafana asks for the targets that show exemplars: the target's
        # own expression, which Prometheus answers with its series' exemplars.
        flagged = [(title, x["refId"], x["expr"]) for p in all_panels(d) for title in [p["title"]]
                   for x in p.get("targets", []) if x.get("exemplar")]
        assert flagged, 'no dashboard target with "exemplar": true'
        for title, ref, expr in flagged:
            got = prom.api("query_exemplars", query=substitute(expr), start=f"{time.time() - 3600:.3f}",
                           end=f"{time.time() + 3600:.3f}")
            assert sum(len(g["exemplars"]) for g in got), f"panel {title!r} {ref}: no exemplars for {expr!r}"
        print(f"     {len(checks)} queries answered" + (f", {len(empty)} cost queries empty" if empty else "")
              + f"; {int(read)} lines read; exemplars " + ", ".join(f"{k} {n}" for k, n in counts.items())
              + (f"; cost {cost:.4f} USD in Prometheus as in the exporter" if extended else ""))
    finally:
        if appender is not None:
            appender.stop()
        if prom is not None:
            prom.stop()
        if exporter is not None:
            exporter.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_live_stack():
    """The built-in mapping: every dashboard query but the Cost row's has
    data; those answer empty, without error."""
    live_stack(extended=False)


def test_live_stack_extended_mapping():
    """examples/executeparse-extended.yml: every dashboard query has data,
    the Cost row's too, and the variables prompt_version and model values."""
    live_stack(extended=True)



# ---------------------------------------------------------------------------
# Backfilled history: README.md's backfill steps, then every model-call panel
# of the dashboard asked about the past.


def documented_backfill():
    """The commands of README.md's backfill steps as argument lists: replay,
    promtool, mv."""
    with open(DOCS, encoding="utf-8") as f:
        docs = f.read()
    m = re.search(r"\nBackfilling Prometheus[^\n]*\n\n```sh\n(.*?)\n```", docs, re.S)
    assert m, "README.md: no sh block of backfill steps after 'Backfilling Prometheus'"
    lines = m.group(1).replace("\\\n", " ").split("\n")
    commands = [shlex.split(x) for x in lines if x.strip() and not x.lstrip().startswith("#")]
    assert len(commands) == 3, f"README.md: expected 3 backfill commands, got {commands}"
    replay, blocks, move = commands
    assert replay[:2] == ["ailog_exporter", "replay"] and "openmetrics" in replay and "-o" in replay, replay
    assert blocks[:4] == ["promtool", "tsdb", "create-blocks-from", "openmetrics"] and len(blocks) == 6, blocks
    assert blocks[4] == replay[replay.index("-o") + 1], "promtool must read the file replay writes"
    assert move[:3] == ["sudo", "mv", blocks[5].rstrip("/") + "/*"] and len(move) == 4, move
    return replay, blocks, move


def scrape_labels():
    """The labels prometheus.yml gives the exporter's live series: job,
    instance and the target's labels."""
    job = next(j for j in load_yaml(PROM_CONFIG)["scrape_configs"] if j["job_name"] == "ailog_exporter")
    (static,) = job["static_configs"]
    (target,) = static["targets"]
    return {"job": job["job_name"], "instance": target, **static.get("labels", {})}


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def request_times_ms(path):
    """{"succeeded": [...], "failed": [...]}: the log time in epoch ms of every
    entry of a winston log that openai_api_requests_total counts."""
    out = {"succeeded": [], "failed": []}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if not (isinstance(e, dict) and isinstance(e.get("capability"), str)
                    and isinstance(e.get("operation"), str) and isinstance(e.get("message"), str)):
                continue
            msg = e["message"]
            if msg == "executeParse - succeeded":
                kind = "succeeded"
            elif msg == "executeParse - failed" or msg.startswith("executeParse - failed "):
                kind = "failed"  # winston appends an Error's text after a space
            else:
                continue
            stamp = datetime.datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
            out[kind].append((stamp - _EPOCH) // datetime.timedelta(milliseconds=1))
    return out


def test_backfilled_history():
    """README.md's backfill steps run as written (paths aside), into a fresh
    Prometheus with this prometheus.yml; then every dashboard query on the
    openai_api_* metrics must answer about the backfilled past, with the
    figures of the log."""
    tmp = tempfile.mkdtemp(prefix="ailog-mon-")
    prom = None
    try:
        replay_cmd, blocks_cmd, move_cmd = documented_backfill()
        labels = scrape_labels()
        documented = [replay_cmd[i + 1] for i, a in enumerate(replay_cmd) if a == "--label"]
        assert dict(x.split("=", 1) for x in documented) == labels and len(documented) == len(labels), \
            f"README.md's replay --label flags {documented} are not the live scrape's labels {labels}"

        # Two and a half hours of history (about 4500 calls), three days ago,
        # from a whole hour on: far from Prometheus's head block, well inside
        # its retention.
        start_s = (int(time.time()) - 3 * 86400) // 3600 * 3600
        log = os.path.join(tmp, "app.log")
        expected = generate(log, log + ".json", "--lines", 13000, "--seed", 29, "--rate", 0.5,
                            "--start", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_s)))
        # Two instants: T on a step (replay's samples are aligned to the epoch
        # every 15 s), T2 between steps.
        at = start_s + 90 * 60
        at2 = start_s + 2 * 3600 + 7.25
        assert expected["last_time_ms"] > (at2 + 120) * 1000, "the history must span the instants checked"

        # 1. replay, with the documented flags; the inputs are this log, and no
        # start expires (the generator's figures assume so).
        om = os.path.join(tmp, "history.om")
        out_name = replay_cmd[replay_cmd.index("-o") + 1]
        args = [om if a == out_name else a for a in replay_cmd[2:-1]]
        rc, out = run([binary(), "replay", *args, "--correlation.max-age", "100000d", "--quiet", log], timeout=120)
        assert rc == 0, f"replay {' '.join(args)} exited with {rc}: {out[-2000:]}"
        # 2. promtool.
        blocks = os.path.join(tmp, "blocks")
        rc, out = run([tool("promtool"), *blocks_cmd[1:4], om, blocks], timeout=120)
        assert rc == 0, f"promtool {' '.join(blocks_cmd[1:])} exited with {rc}: {out[-2000:]}"
        # 3. The blocks into Prometheus's (fresh) data directory.
        data = os.path.join(tmp, "data")
        os.mkdir(data)
        moved = os.listdir(blocks)
        assert moved, "promtool wrote no block"
        for name in moved:
            shutil.move(os.path.join(blocks, name), data)

        # Nothing listens at the exporter's address: the past is all there is.
        prom = Prometheus(tmp, f"127.0.0.1:{free_port()}", storage=data, args=["--storage.tsdb.retention.time=30d"])
        wait_until(lambda: prom.query("count(openai_api_requests_total)", at=at), timeout=30, interval=0.2,
                   what="the backfilled blocks loaded by prometheus")

        # The backfilled series are the live scrape's series.
        groups = [g["metric"] for g in prom.query('count by (job, instance, service) ({__name__=~"openai_api_.+"})',
                                                   at=at)]
        assert groups == [labels], f"backfilled series labelled {groups}, the live scrape's are {labels}"
        assert prom.query('openai_api_requests_total{job="ailog_exporter"}', at=at), \
            'no backfilled series with job="ailog_exporter"'

        # Every model-call query of the dashboard answers, at both instants;
        # the Cost row's, on the extended mapping's counter, answer empty.
        queries = [(title, ref, expr) for title, ref, expr in dashboard_queries(dashboard())
                   if "openai_api_" in expr and COST_METRIC not in expr]
        assert queries, "no dashboard query on openai_api_*"
        problems = []
        for title, ref, expr in dashboard_queries(dashboard()):
            if COST_METRIC in expr:
                try:
                    result = prom.query(substitute(expr), at=at)
                except QueryError as e:
                    problems.append(f"panel {title!r} {ref}: {e}")
                    continue
                if result:
                    problems.append(f"panel {title!r} {ref}: {result} from history without {COST_METRIC}")
        for when in (at, at2):
            for title, ref, expr in queries:
                try:
                    result = prom.query(substitute(expr), at=when)
                except QueryError as e:
                    problems.append(f"panel {title!r} {ref}: {e}")
                    continue
                values = [float(s["value"][1]) for s in result]
                if not values or any(math.isnan(v) for v in values):
                    problems.append(f"panel {title!r} {ref} at {when}: {values} for {expr!r}")
        assert not problems, "dashboard queries without backfilled data:\n" + "\n".join(problems)

        # The figures, from the log itself. The parse of the log counts what
        # the generator says it wrote.
        times = request_times_ms(log)
        total = sum(s["value"] for s in expected["metrics"]["openai_api_requests_total"])
        assert len(times["succeeded"]) + len(times["failed"]) == total, (len(times["succeeded"]), len(times["failed"]),
                                                                          total)

        def within(kind, seconds):
            """Requests of kind ("succeeded", "failed", None: both) logged in (at - seconds, at]."""
            ms = times["succeeded"] + times["failed"] if kind is None else times[kind]
            return sum(1 for x in ms if (at - seconds) * 1000 < x <= at * 1000)

        def panel(title):
            (expr,) = [e for t, _, e in queries if t == title]
            (sample,) = prom.query(substitute(expr), at=at)
            return float(sample["value"][1])

        # increase() and rate() extrapolate to the ends of their window when
        # its first or last sample lies inside it. Prometheus 2.x's range
        # [at - 1h, at] is closed and `at` is on a step, so every series that
        # exists at at - 1h has samples on both ends, exactly 1 h apart, and
        # one that starts later starts with a zero sample (nothing to
        # extrapolate towards zero): the increase is exactly its value at `at`
        # minus its value at at - 1h, the requests logged in (at - 1h, at].
        # (Prometheus 3 opened the range on the left: there the same instant
        # would give 3600/3585 of the requests in (at - 3585 s, at].)
        hour = within(None, 3600)
        assert hour > 1000, hour
        got = panel("Requests (last 1 h)")
        assert got == hour, f"Requests (last 1 h) at {at}: {got}, the log has {hour} requests in that hour"
        # The 5-minute panels, by the same reasoning: differences over 300 s.
        five = within(None, 300)
        assert within("failed", 300) > 0, "the 5 minutes checked should hold failures"
        checks = [("Requests/s", five / 300),
                  ("Error rate", within("failed", 300) / 300),
                  ("Success rate", 100 * within("succeeded", 300) / five)]
        for title, want in checks:
            got = panel(title)
            assert math.isclose(got, want, rel_tol=1e-9), f"{title} at {at}: {got}, the log gives {want}"
        print(f"     {len(queries)} model-call queries answered at 2 instants; {hour} requests in the hour "
              f"to {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(at))}, as in the log")
    finally:
        if prom is not None:
            prom.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_tests([
        test_yaml_parses,
        test_promtool_check_config,
        test_promtool_rules,
        test_rules_are_complete,
        test_grafana_provisioning,
        test_compose_paths_exist,
        test_dockerfile,
        test_dashboard_structure,
        test_docs_cover_everything,
        test_live_stack,
        test_live_stack_extended_mapping,
        test_backfilled_history,
    ])
