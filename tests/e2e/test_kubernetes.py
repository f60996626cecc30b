#!/usr/bin/env python3
"""deploy/kubernetes/ against the binary and the Dockerfile it deploys.

The DaemonSet's container runs the real binary here with the manifest's own
arguments, its host paths mapped into a temporary directory laid out as a
node's /var/log/pods (<namespace>_<pod>_<uid>/<container>/0.log, CRI lines):
it must start, read the pods' logs through the manifest's glob, write its
state file where the manifest mounts the state volume, and answer the
manifest's probes on the manifest's port. Every flag it passes exists in
`serve --help`; the image tag is the binary's version; the port is the
Dockerfile's EXPOSE and the binary's default; the Service and the PodMonitor
select the DaemonSet's pods by their labels and reach the port by its name;
the PodMonitor keeps the node as a target label; the pod is locked down
(no privilege escalation, read-only root, every capability dropped, logs
mounted read-only), tolerates every taint, has a node-agent priority and
updates one node at a time.

prometheus/kubernetes.yml, the scrape job for a Prometheus without the
Operator, is the PodMonitor's twin: the same namespace, pod label and port,
and the same relabelling (node and instance from the pod's node, namespace
and pod). promtool checks it; where promtool is built without Kubernetes
discovery (Debian's), the kubernetes_sd_configs block is replaced by a
file_sd_configs entry and the rest is checked as written. The real
prometheus then runs its relabel_configs on the targets pod discovery would
give (its __meta_kubernetes_pod_* labels, from a file): two exporter pods on
two nodes, whose addresses are two real exporters, are scraped with node,
instance, namespace and pod as the labels said, and another app's pod, a pod
without the DaemonSet's label, another container's port and a container
without a port are dropped.

With AILOG_RECORD_LOGGERS=1 and node and npm installed, every document the
kustomization lists is validated against the Kubernetes API's schemas
(deploy/kubernetes/validate, npm ci in a copy), and broken copies of the
manifests (a wrong type, a value outside an enum, an unknown field, a
missing required field, an unknown apiVersion) must each fail it.

Usage: AILOG_EXPORTER=build/ailog_exporter python3 tests/e2e/test_kubernetes.py [test_name ...]
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request

from harness import ROOT, Exporter, binary, parse_exposition, run_tests, value, wait_until
from test_monitoring import Prometheus, tool

try:
    import yaml
except ImportError:  # Debian's python3-yaml when this interpreter is not the system one
    sys.path.append("/usr/lib/python3/dist-packages")
    import yaml

DEPLOY = os.path.join(ROOT, "deploy", "kubernetes")


def manifests():
    """{kind: document} of every file the kustomization lists."""
    with open(os.path.join(DEPLOY, "kustomization.yaml")) as f:
        kustomization = yaml.safe_load(f)
    listed = kustomization["resources"]
    assert sorted(listed) == sorted(os.path.basename(p) for p in glob.glob(os.path.join(DEPLOY, "*.yaml"))
                                    if not p.endswith("kustomization.yaml")), listed
    docs = {}
    for name in listed:
        with open(os.path.join(DEPLOY, name)) as f:
            for d in yaml.safe_load_all(f):
                assert d["kind"] not in docs, d["kind"]
                docs[d["kind"]] = d
    return docs


def container(docs):
    pod = docs["DaemonSet"]["spec"]["template"]["spec"]
    assert len(pod["containers"]) == 1
    return pod, pod["containers"][0]


def test_manifests_fit_the_binary_and_the_dockerfile():
    docs = manifests()
    pod, c = container(docs)
    version = subprocess.run([binary(), "--version"], capture_output=True, check=True).stdout.decode().split()[1]
    assert c["image"] == f"ailog_exporter:{version}", (c["image"], version)
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        dockerfile = f.read()
    port = c["ports"][0]["containerPort"]
    assert re.search(rf"^EXPOSE {port}$", dockerfile, re.M), port
    help_text = subprocess.run([binary(), "serve", "--help"], capture_output=True, check=True).stdout.decode()
    assert f"--web.listen-address TEXT=:{port}" in help_text
    assert c["args"][0] == "serve"
    for arg in c["args"][1:]:
        if arg.startswith("--"):
            flag = arg.split("=", 1)[0]
            assert re.search(rf"^\s+{re.escape(flag)}\b", help_text, re.M), f"{flag} is not a flag of serve"

    # Locked down, everywhere, one node at a time.
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"]
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert pod["priorityClassName"] in ("system-node-critical", "system-cluster-critical")
    assert docs["DaemonSet"]["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                                          "rollingUpdate": {"maxUnavailable": 1}}
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for name in ("pods", "containers"):
        assert mounts[name]["readOnly"] is True and volumes[name]["hostPath"]["path"] == mounts[name]["mountPath"]
    state = next(a.split("=", 1)[1] for a in c["args"] if a.startswith("--state.file="))
    assert os.path.dirname(state) == mounts["state"]["mountPath"], state
    assert "hostPath" in volumes["state"] and "readOnly" not in mounts["state"]
    assert c["resources"]["requests"]["memory"] and c["resources"]["limits"]["memory"]

    # The probes on the port's name; the Service and PodMonitor find the pods.
    labels = docs["DaemonSet"]["spec"]["template"]["metadata"]["labels"]
    assert docs["DaemonSet"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    port_name = c["ports"][0]["name"]
    assert c["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": port_name}
    assert c["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": port_name}
    svc = docs["Service"]["spec"]
    assert svc["clusterIP"] == "None" and svc["selector"].items() <= labels.items()
    assert svc["ports"][0]["targetPort"] == port_name
    monitor = docs["PodMonitor"]["spec"]
    assert monitor["selector"]["matchLabels"].items() <= labels.items()
    endpoint = monitor["podMetricsEndpoints"][0]
    assert endpoint["port"] == port_name and endpoint["path"] == "/metrics"
    assert {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"} in endpoint["relabelings"]


CRI_LINE = ('2025-06-01T12:00:0{s}.000000000Z stdout F {{"level":"info","message":"executeParse - {kind}",'
            '"requestId":"{rid}","capability":"parse-task","operation":"core",{extra}'
            '"timestamp":"2025-06-01T12:00:0{s}.000Z"}}\n')


def test_the_daemonset_runs_as_written():
    docs = manifests()
    _, c = container(docs)
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    tmp = tempfile.mkdtemp(prefix="ailog-k8s-")
    try:
        node = {path: os.path.join(tmp, path.lstrip("/")) for path in mounts.values()}
        for d in node.values():
            os.makedirs(d)

        def host(p):
            for path, local in node.items():
                if p.startswith(path):
                    return local + p[len(path):]
            return p
        # Two pods of the service and one of another app, as the kubelet lays them out.
        logs = [os.path.join(node["/var/log/pods"], "ai-service_api-7d9f8b6c4-x2k9p_0b1c", "api", "0.log"),
                os.path.join(node["/var/log/pods"], "ai-service_api-7d9f8b6c4-q8w7e_9a8b", "api", "0.log")]
        for path in logs:
            os.makedirs(os.path.dirname(path))
            open(path, "w").close()
        args = [host(a.split("=", 1)[0] + "=" + host(a.split("=", 1)[1])) if a.startswith("--") and "=" in a
                else host(a) for a in c["args"][1:]]
        with Exporter(args + ["--start-at", "beginning"]) as e:
            port = e.address.split(":")[1]
            for probe in ("readinessProbe", "livenessProbe"):
                path = c[probe]["httpGet"]["path"]
                wait_until(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).status == 200,
                           what=f"{probe} {path}")
            for i, path in enumerate(logs):
                with open(path, "a") as f:
                    f.write(CRI_LINE.format(s=1, kind="start", rid=f"r{i}", extra=""))
                    f.write(CRI_LINE.format(s=2, kind="succeeded", rid=f"r{i}",
                                            extra='"result":{"durationMs":5,"usage":{"tokens":{"input":3,'
                                                  '"output":2}}},'))
            wait_until(lambda: value(e.samples(), "openai_api_requests_total", default=0, capability="parse-task",
                                     operation="core", status="success") == 2, what="both pods' calls counted")
            samples = e.samples()
            assert value(samples, "ailog_exporter_files_watched") == 2
            assert value(samples, "openai_api_tokens_total", capability="parse-task", operation="core",
                         type="input") == 6
        state = next(a.split("=", 1)[1] for a in c["args"] if a.startswith("--state.file="))
        assert os.path.exists(host(state)), "no state file where the manifest keeps it"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------
# prometheus/kubernetes.yml: the scrape job for a Prometheus without the Operator.

PROM_K8S = os.path.join(ROOT, "prometheus", "kubernetes.yml")
RULE_DIR = os.path.join(ROOT, "prometheus", "rules")
JOB = "ailog_exporter"


def k8s_job():
    with open(PROM_K8S) as f:
        config = yaml.safe_load(f)
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == JOB]
    return config, job


def meta_name(label):
    """A Kubernetes label's name as pod discovery writes it in a meta label."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", label)


def file_sd_copy(targets_file, fast=False):
    """prometheus/kubernetes.yml with its kubernetes_sd_configs block replaced
    by a file_sd_configs entry reading targets_file, the rule files' path
    made absolute, and with fast=True 1 s scrapes; everything else as
    written. Each replaced text must occur exactly once."""
    with open(PROM_K8S) as f:
        text = f.read()
    swaps = [("  - rules/*.yml\n", f"  - {RULE_DIR}/*.yml\n")]
    if fast:
        swaps += [("scrape_interval: 15s", "scrape_interval: 1s"), ("scrape_timeout: 10s", "scrape_timeout: 1s")]
    for old, new in swaps:
        assert text.count(old) == 1, f"prometheus/kubernetes.yml: expected {old!r} once"
        text = text.replace(old, new)
    blocks = list(re.finditer(r"(?m)^( +)kubernetes_sd_configs:\n(?:\1 .*\n|\s*\n)+", text))
    assert len(blocks) == 1, "prometheus/kubernetes.yml: expected one kubernetes_sd_configs block"
    indent = blocks[0].group(1)
    return (text[:blocks[0].start()] + f"{indent}file_sd_configs:\n{indent}  - files: [{json.dumps(targets_file)}]\n"
            + text[blocks[0].end():])


def pod_targets(name, node, labels, containers, controller, namespace="monitoring", ip="127.0.0.1"):
    """The targets Kubernetes pod discovery gives for one pod, as file_sd
    target groups: one per container port (address pod IP:port, the port's
    name, number and protocol), one per container without a port (the pod
    IP alone), each with the pod's meta labels. containers: [(container
    name, [(port name, port number)])]; controller: (kind, name)."""
    pod = {"__meta_kubernetes_namespace": namespace, "__meta_kubernetes_pod_name": name,
           "__meta_kubernetes_pod_node_name": node, "__meta_kubernetes_pod_ip": ip,
           "__meta_kubernetes_pod_ready": "true", "__meta_kubernetes_pod_phase": "Running",
           "__meta_kubernetes_pod_uid": f"uid-{name}", "__meta_kubernetes_pod_controller_kind": controller[0],
           "__meta_kubernetes_pod_controller_name": controller[1]}
    for k, v in labels.items():
        pod[f"__meta_kubernetes_pod_label_{meta_name(k)}"] = v
        pod[f"__meta_kubernetes_pod_labelpresent_{meta_name(k)}"] = "true"
    groups = []
    for container, ports in containers:
        c = dict(pod, __meta_kubernetes_pod_container_name=container, __meta_kubernetes_pod_container_init="false",
                 __meta_kubernetes_pod_container_image=f"{container}:1")
        for port_name, number in ports:
            groups.append({"targets": [f"{ip}:{number}"],
                           "labels": dict(c, __meta_kubernetes_pod_container_port_name=port_name,
                                          __meta_kubernetes_pod_container_port_number=str(number),
                                          __meta_kubernetes_pod_container_port_protocol="TCP")})
        if not ports:
            groups.append({"targets": [ip], "labels": c})
    return groups


def discovered(port_a, port_b):
    """What pod discovery finds in the namespace: the DaemonSet's pods on
    node-a and node-b (their exporters at port_a and port_b), and targets
    the job must drop. Returns (target groups, {pod: node} of the two
    exporter pods, [(pod, port name)] of the targets to drop)."""
    docs = manifests()
    _, c = container(docs)
    template = docs["DaemonSet"]["spec"]["template"]["metadata"]["labels"]
    daemonset = ("DaemonSet", docs["DaemonSet"]["metadata"]["name"])
    revision = {"controller-revision-hash": "6d4b9c7f8", "pod-template-generation": "1"}
    port_name = c["ports"][0]["name"]
    exporters = {"ailog-exporter-7xk2p": "node-a", "ailog-exporter-q9m4d": "node-b"}
    groups = pod_targets("ailog-exporter-7xk2p", "node-a", {**template, **revision},
                         [(c["name"], [(port_name, port_a)]),
                          # A sidecar's port, whose name only begins like the exporter's.
                          ("log-proxy", [(port_name + "-proxy", port_b)])], daemonset)
    groups += pod_targets("ailog-exporter-q9m4d", "node-b", {**template, **revision},
                          [(c["name"], [(port_name, port_b)]), ("config-reloader", [])], daemonset)
    # Another app's pod, on the same port name.
    groups += pod_targets("ai-api-7d9f8b6c4-x2k9p", "node-a", {"app.kubernetes.io/name": "ai-api"},
                          [("api", [(port_name, port_a)])], ("ReplicaSet", "ai-api-7d9f8b6c4"))
    # A pod labelled with the DaemonSet's name under another label key.
    groups += pod_targets("ailog-exporter-legacy-a1b2c", "node-b", {"app": "ailog-exporter"},
                          [("exporter", [(port_name, port_b)])], ("ReplicaSet", "ailog-exporter-legacy"))
    dropped = [("ailog-exporter-7xk2p", port_name + "-proxy"), ("ailog-exporter-q9m4d", None),
               ("ai-api-7d9f8b6c4-x2k9p", port_name), ("ailog-exporter-legacy-a1b2c", port_name)]
    return groups, exporters, dropped


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    return r.returncode, (r.stdout + r.stderr).strip()


def test_kubernetes_sd_job_passes_promtool():
    """promtool check config on the file as written where promtool has
    Kubernetes discovery, and always with file_sd_configs in place of
    kubernetes_sd_configs (the rule files, the relabelling and the target
    file checked too: a bad regex, target label or meta label fails)."""
    promtool = tool("promtool")
    rules = len(glob.glob(os.path.join(RULE_DIR, "*.yml")))
    with tempfile.TemporaryDirectory(prefix="ailog-k8s-") as tmp:
        # As written, where promtool has Kubernetes discovery.
        with open(PROM_K8S) as f:
            original = f.read().replace("  - rules/*.yml\n", f"  - {RULE_DIR}/*.yml\n")
        path = os.path.join(tmp, "kubernetes.yml")
        with open(path, "w") as f:
            f.write(original)
        rc, out = run([promtool, "check", "config", path])
        if rc == 0:
            assert f"{rules} rule files found" in out, out
            print("     kubernetes_sd_configs checked by promtool itself")
        else:
            assert "field kubernetes_sd_configs not found" in out, out
            print("     this promtool has no Kubernetes discovery: kubernetes_sd_configs checked by its replacement")
        # With file_sd_configs in its place, reading what pod discovery gives.
        targets = os.path.join(tmp, "targets.json")
        with open(targets, "w") as f:
            json.dump(discovered(7467, 7468)[0], f)
        copy = file_sd_copy(targets)
        with open(path, "w") as f:
            f.write(copy)
        rc, out = run([promtool, "check", "config", path])
        assert rc == 0, out
        assert f"{rules} rule files found" in out, out
        # promtool reads the relabelling and the targets: a bad regex or a bad label name fails.
        for old, new in (("regex: ailog-exporter\n", "regex: ailog-exporter(\n"),
                         ("target_label: node\n", "target_label: no-de\n")):
            assert copy.count(old) == 1, old
            with open(path, "w") as f:
                f.write(copy.replace(old, new))
            rc, out = run([promtool, "check", "config", path])
            assert rc != 0, f"promtool accepted {new.strip()!r}"
        with open(path, "w") as f:
            f.write(copy)
        with open(targets, "w") as f:
            json.dump([{"targets": ["127.0.0.1:1"], "labels": {"bad-name": "x"}}], f)
        rc, out = run([promtool, "check", "config", path])
        assert rc != 0 and "bad-name" in out, out


def test_kubernetes_sd_job_is_the_podmonitors():
    """Namespace, selection, path, interval and relabelling of
    prometheus/kubernetes.yml are those of the PodMonitor (and of what the
    Operator adds to every PodMonitor: namespace and pod)."""
    docs = manifests()
    with open(os.path.join(DEPLOY, "kustomization.yaml")) as f:
        namespace = yaml.safe_load(f)["namespace"]
    config, job = k8s_job()
    monitor = docs["PodMonitor"]["spec"]
    (endpoint,) = monitor["podMetricsEndpoints"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": [namespace]}}], \
        job["kubernetes_sd_configs"]
    assert job.get("metrics_path", "/metrics") == endpoint["path"]
    assert job.get("scrape_interval", config["global"]["scrape_interval"]) == endpoint["interval"]
    assert job.get("scheme", "http") == endpoint.get("scheme", "http")

    keeps = {(tuple(r["source_labels"]), r["regex"]) for r in job["relabel_configs"] if r.get("action") == "keep"}
    want = {((f"__meta_kubernetes_pod_label_{meta_name(k)}",), v)
            for k, v in monitor["selector"]["matchLabels"].items()}
    want.add((("__meta_kubernetes_pod_container_port_name",), endpoint["port"]))
    assert keeps == want, f"keep rules {sorted(keeps)}, the PodMonitor selects {sorted(want)}"
    template = docs["DaemonSet"]["spec"]["template"]["metadata"]["labels"]
    assert monitor["selector"]["matchLabels"].items() <= template.items()

    def pair(r, source, target):
        assert r.get("action", "replace") == "replace" and r.get("regex", "(.*)") == "(.*)" \
            and r.get("replacement", "$1") == "$1", r
        return tuple(r[source]), r[target]
    sets = {pair(r, "source_labels", "target_label") for r in job["relabel_configs"] if r.get("action") != "keep"}
    # The Operator names the job <namespace>/<PodMonitor>; a relabeling may name it as job_name does here.
    for r in endpoint["relabelings"]:
        if r.get("targetLabel") == "job":
            assert r.get("replacement") == job["job_name"] and not r.get("sourceLabels"), r
    want = {pair(r, "sourceLabels", "targetLabel") for r in endpoint["relabelings"] if r.get("targetLabel") != "job"}
    want |= {(("__meta_kubernetes_namespace",), "namespace"), (("__meta_kubernetes_pod_name",), "pod")}
    assert sets == want, f"relabelling {sorted(sets)}, the PodMonitor's (and the Operator's) {sorted(want)}"
    assert (("__meta_kubernetes_pod_node_name",), "node") in sets and \
        (("__meta_kubernetes_pod_node_name",), "instance") in sets


def test_kubernetes_sd_relabelling_in_prometheus():
    """The real prometheus, the job's relabel_configs, the targets pod
    discovery would give: two exporter pods scraped with their node,
    namespace and pod; everything else dropped."""
    tmp = tempfile.mkdtemp(prefix="ailog-k8s-")
    exporters, prom = [], None
    try:
        # node-a's exporter reads one pod's log, node-b's two: the figures tell the nodes apart.
        for n in (1, 2):
            logs = [os.path.join(tmp, f"node{n}-{i}.log") for i in range(n)]
            for path in logs:
                open(path, "w").close()
            exporters.append(Exporter(logs))
        ports = [int(e.address.rsplit(":", 1)[1]) for e in exporters]
        groups, pods, dropped = discovered(*ports)
        targets = os.path.join(tmp, "targets.json")
        with open(targets, "w") as f:
            json.dump(groups, f)
        prom = Prometheus(tmp, None, config_text=file_sd_copy(targets, fast=True))

        def scraped():
            data = prom.api("targets", state="any")
            active = [t for t in data["activeTargets"] if t["scrapePool"] == JOB]
            gone = [t for t in data["droppedTargets"] if t["discoveredLabels"].get("job") == JOB]
            if len(active) + len(gone) == len(groups) and all(t["health"] != "unknown" for t in active):
                return active, gone
        active, gone = wait_until(scraped, timeout=60, interval=0.2, what="the job's targets discovered and scraped")

        namespace = groups[0]["labels"]["__meta_kubernetes_namespace"]
        want = {pod: {"job": JOB, "instance": node, "node": node, "namespace": namespace, "pod": pod}
                for pod, node in pods.items()}
        got = sorted((t["labels"] for t in active), key=lambda x: sorted(x.items()))
        assert got == sorted(want.values(), key=lambda x: sorted(x.items())), \
            f"active targets {got}, want {list(want.values())}"
        for t in active:
            i = list(pods).index(t["labels"]["pod"])
            assert t["scrapeUrl"] == f"http://{exporters[i].address}/metrics", t["scrapeUrl"]
            assert (t["health"], t["lastError"]) == ("up", ""), t
        gone = sorted(((t["discoveredLabels"]["__meta_kubernetes_pod_name"],
                        t["discoveredLabels"].get("__meta_kubernetes_pod_container_port_name")) for t in gone), key=str)
        assert gone == sorted(dropped, key=str), f"dropped {gone}, want {dropped}"

        # The scrapes are stored with those labels: up, and each node's own figure.
        def stored():
            up = prom.query(f'up{{job="{JOB}"}}')
            watched = prom.query(f'ailog_exporter_files_watched{{job="{JOB}"}}')
            if len(up) == 2 and len(watched) == 2:
                return up, watched
        up, watched = wait_until(stored, timeout=60, interval=0.2, what="both exporters' series in prometheus")
        assert sorted((s["metric"]["node"], s["value"][1]) for s in up) == [("node-a", "1"), ("node-b", "1")], up
        assert {s["metric"]["node"]: s["value"][1] for s in watched} == {"node-a": "1", "node-b": "2"}, watched
        for s in watched:
            labels = {k: v for k, v in s["metric"].items() if k != "__name__"}
            assert labels == want[labels.get("pod")], labels
        print(f"     2 of {len(groups)} discovered targets scraped, by node; "
              f"{len(dropped)} dropped")
    finally:
        if prom is not None:
            prom.stop()
        for e in exporters:
            e.stop()
            shutil.rmtree(e.tmp, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------
# The manifests against the Kubernetes API's schemas (deploy/kubernetes/validate).

VALIDATOR = os.path.join(DEPLOY, "validate")
# Broken copies the validator must refuse: (file, text, replacement, the failure it prints).
BREAKAGES = (
    ("daemonset.yaml", "containerPort: 7467", 'containerPort: "7467"',
     "/spec/template/spec/containers/0/ports/0/containerPort must be integer"),
    ("daemonset.yaml", "imagePullPolicy: IfNotPresent", "imagePullPolicy: Sometimes",
     "/spec/template/spec/containers/0/imagePullPolicy must be equal to one of the allowed values"),
    ("daemonset.yaml", "  updateStrategy:\n", "  replicas: 2\n  updateStrategy:\n",
     "/spec/replicas is not a field of the schema"),
    ("daemonset.yaml", "            periodSeconds: 5\n", "            periodSecond: 5\n",
     "/spec/template/spec/containers/0/readinessProbe/periodSecond is not a field of the schema"),
    ("daemonset.yaml", "  selector:\n    matchLabels:\n      app.kubernetes.io/name: ailog-exporter\n", "",
     "/spec must have required property selector"),
    ("service.yaml", "      port: 7467", "      port: [7467]", "/spec/ports/0/port must be integer"),
    ("serviceaccount.yaml", "automountServiceAccountToken: false", "automountServiceAccountToken: nope",
     "/automountServiceAccountToken must be boolean"),
    ("podmonitor.yaml", "interval: 15s", "interval: 15 seconds",
     "/spec/podMetricsEndpoints/0/interval must match pattern"),
    ("podmonitor.yaml", "      path: /metrics", "      paht: /metrics",
     "/spec/podMetricsEndpoints/0/paht is not a field of the schema"),
    ("podmonitor.yaml", "apiVersion: monitoring.coreos.com/v1", "apiVersion: monitoring.coreos.com/v2",
     "no schema for apiVersion monitoring.coreos.com/v2, kind PodMonitor"),
)


def test_manifests_match_the_api_schemas():
    """Every document the kustomization lists passes the Kubernetes API's
    schemas (and has no field they lack); each breakage fails, naming its
    file, kind and field."""
    missing = [t for t in ("node", "npm") if shutil.which(t) is None]
    if os.environ.get("AILOG_RECORD_LOGGERS") != "1" or missing:
        print("skipped test_manifests_match_the_api_schemas: it runs with AILOG_RECORD_LOGGERS=1 and node and npm "
              "installed" + (f" ({', '.join(missing)} not found)" if missing else ""), flush=True)
        return
    tmp = tempfile.mkdtemp(prefix="ailog-k8s-schemas-")
    try:
        copy = os.path.join(tmp, "kubernetes")
        shutil.copytree(DEPLOY, copy, ignore=shutil.ignore_patterns("node_modules"))
        tool_dir = os.path.join(copy, "validate")
        rc, out = run(["npm", "ci", "--no-audit", "--no-fund"], cwd=tool_dir, timeout=240)
        assert rc == 0, f"npm ci: exit {rc}: {out[-3000:]}"

        rc, out = run(["node", "validate.mjs", DEPLOY], cwd=tool_dir, timeout=120)
        assert rc == 0, out
        with open(os.path.join(DEPLOY, "kustomization.yaml")) as f:
            listed = yaml.safe_load(f)["resources"]
        want = []
        for name in listed:
            with open(os.path.join(DEPLOY, name)) as f:
                want += [f"ok   {name}: {d['kind']} {d['metadata']['name']} ({d['apiVersion']})"
                         for d in yaml.safe_load_all(f) if d]
        assert out.splitlines()[:-1] == want, out
        assert out.splitlines()[-1] == f"{len(want)} documents in {len(listed)} files: 0 problem(s)", out

        kinds = {}
        for name in listed:
            with open(os.path.join(DEPLOY, name)) as f:
                kinds[name] = yaml.safe_load(f)["kind"]
        for name, old, new, failure in BREAKAGES:
            path = os.path.join(copy, name)
            with open(path) as f:
                good = f.read()
            assert good.count(old) == 1, f"{name}: expected {old!r} once"
            with open(path, "w") as f:
                f.write(good.replace(old, new))
            try:
                rc, out = run(["node", "validate.mjs"], cwd=tool_dir, timeout=120)
            finally:
                with open(path, "w") as f:
                    f.write(good)
            what = f"{name}, {old.strip()!r} made {new.strip()!r}"
            fails = [x for x in out.splitlines() if x.startswith("FAIL")]
            assert rc == 1 and fails == [f"FAIL {name}: {kinds[name]} ailog-exporter"], f"{what}: exit {rc}\n{out}"
            assert re.search(r"^       " + re.escape(failure), out, re.M), f"{what}:\n{out}"
            assert out.endswith(": 1 problem(s)"), out
        print(f"     {len(want)} documents valid; {len(BREAKAGES)} broken copies refused")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_tests([
        test_manifests_fit_the_binary_and_the_dockerfile,
        test_the_daemonset_runs_as_written,
        test_kubernetes_sd_job_passes_promtool,
        test_kubernetes_sd_job_is_the_podmonitors,
        test_kubernetes_sd_relabelling_in_prometheus,
        test_manifests_match_the_api_schemas,
    ])
