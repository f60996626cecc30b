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

Usage: AILOG_EXPORTER=build/ailog_exporter python3 tests/e2e/test_kubernetes.py [test_name ...]
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request

from harness import ROOT, Exporter, binary, parse_exposition, run_tests, value, wait_until

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


if __name__ == "__main__":
    run_tests([test_manifests_fit_the_binary_and_the_dockerfile, test_the_daemonset_runs_as_written])
