// Validates the manifests of deploy/kubernetes/ offline, against the schemas
// the Kubernetes API server applies: every document of every file that
// kustomization.yaml lists is checked with the model of its apiVersion and
// kind, kubernetes-models (generated from the Kubernetes OpenAPI
// specification) for the built-in kinds and
// @kubernetes-models/prometheus-operator (generated from the Prometheus
// Operator's CRDs) for the PodMonitor. The models' validate() checks types,
// enums, patterns and required fields; it lets fields the schema does not
// define through, so each field is also checked to be one the schema knows:
// `kubectl apply` (server-side strict field validation, its default) refuses
// a manifest with an unknown field, and a misspelt field is otherwise a
// setting silently lost.
//
// Usage: npm ci && node validate.mjs [directory of kustomization.yaml, default ..]
// One line per document; every failure with its file, kind and field path.
// Exits 1 on any failure.

import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIR = path.resolve(process.argv[2] ?? path.join(HERE, ".."));

// The module of each apiVersion's models; the built-in ones are kubernetes-models/<apiVersion>.
const MODULES = {
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};

async function modelOf(apiVersion, kind) {
  let mod;
  try {
    mod = await import(MODULES[apiVersion] ?? `kubernetes-models/${apiVersion}`);
  } catch {
    return null;
  }
  const Model = mod[kind];
  return typeof Model === "function" && Model.apiVersion === apiVersion && Model.kind === kind ? Model : null;
}

function describe(err) {
  const where = err.instancePath || "/";
  const allowed = err.params && err.params.allowedValues ? ` (${err.params.allowedValues.join(", ")})` : "";
  return `${where} ${err.message}${allowed}`;
}

// The schema's complaints about data, [] when it is valid.
function schemaErrors(Model, data) {
  try {
    new Model(data).validate();
    return [];
  } catch (e) {
    if (!Array.isArray(e.errors)) throw e;
    return e.errors;
  }
}

function pointer(keys) {
  return keys.map((k) => "/" + String(k).replace(/~/g, "~0").replace(/\//g, "~1")).join("");
}

// Whether the schema looks at the field at `keys`: a value of another type
// in its place (true, or a string for a boolean) fails there or below.
function known(Model, doc, keys) {
  const copy = JSON.parse(JSON.stringify(doc));
  let parent = copy;
  for (const k of keys.slice(0, -1)) parent = parent[k];
  const last = keys[keys.length - 1];
  parent[last] = typeof parent[last] === "boolean" ? "not a boolean" : true;
  const at = pointer(keys);
  return schemaErrors(Model, copy).some((e) => e.instancePath === at || e.instancePath.startsWith(at + "/"));
}

// The paths of the fields of a valid document that its schema does not define.
function unknownFields(Model, doc) {
  const out = [];
  const walk = (node, keys) => {
    if (Array.isArray(node)) {
      node.forEach((v, i) => walk(v, [...keys, i]));
    } else if (node !== null && typeof node === "object") {
      for (const k of Object.keys(node)) {
        if (known(Model, doc, [...keys, k])) walk(node[k], [...keys, k]);
        else out.push(`${pointer([...keys, k])} is not a field of the schema`);
      }
    }
  };
  walk(doc, []);
  return out;
}

// [{file, index, doc}] of every non-empty document of a file; throws on a YAML error.
async function documents(file) {
  const text = await readFile(path.join(DIR, file), "utf8");
  // YAML 1.1, as kubectl reads manifests (yes/no/on/off are booleans).
  const parsed = parseAllDocuments(text, { version: "1.1", uniqueKeys: true });
  const out = [];
  for (const [index, d] of (Array.isArray(parsed) ? parsed : [parsed]).entries()) {
    if (d.errors.length) throw new Error(`document ${index + 1}: ${d.errors.map((e) => e.message).join("; ")}`);
    // Through JSON, as the API receives it (a YAML timestamp becomes its string).
    const doc = JSON.parse(JSON.stringify(d.toJS() ?? null));
    if (doc !== null) out.push({ file, index, doc });
  }
  return out;
}

async function main() {
  const failures = [];
  const fail = (where, problems) => {
    for (const p of problems) failures.push(`${where}: ${p}`);
    console.log(`FAIL ${where}`);
    for (const p of problems) console.log(`       ${p}`);
  };

  let listed;
  try {
    const [kustomization] = await documents("kustomization.yaml");
    listed = kustomization.doc.resources;
    if (!Array.isArray(listed) || listed.length === 0) throw new Error("no resources listed");
  } catch (e) {
    fail("kustomization.yaml", [e.message]);
    listed = [];
  }

  let checked = 0;
  for (const file of listed) {
    let docs;
    try {
      docs = await documents(file);
    } catch (e) {
      fail(file, [e.message]);
      continue;
    }
    if (docs.length === 0) fail(file, ["no document"]);
    for (const { index, doc } of docs) {
      checked++;
      const kind = doc && typeof doc === "object" && !Array.isArray(doc) ? doc.kind : undefined;
      const name = (doc && doc.metadata && doc.metadata.name) || `document ${index + 1}`;
      const where = `${file}: ${kind ?? "(no kind)"} ${name}`;
      if (typeof kind !== "string" || typeof doc.apiVersion !== "string") {
        fail(where, ["not a Kubernetes object: no apiVersion and kind"]);
        continue;
      }
      const Model = await modelOf(doc.apiVersion, kind);
      if (Model === null) {
        fail(where, [`no schema for apiVersion ${doc.apiVersion}, kind ${kind}`]);
        continue;
      }
      const errors = schemaErrors(Model, doc).map(describe);
      const problems = errors.length ? errors : unknownFields(Model, doc);
      if (problems.length) fail(where, problems);
      else console.log(`ok   ${where} (${doc.apiVersion})`);
    }
  }
  console.log(`${checked} documents in ${listed.length} files: ${failures.length} problem(s)`);
  return failures.length ? 1 : 0;
}

process.exitCode = await main();
