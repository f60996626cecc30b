"""The tree's rules, as ARCHITECTURE.md states them:
- stages include only stages before them (the order below) and the public headers;
- a public header (include/ailog/) includes only other public headers;
- no source file is over 500 lines.
Prints every breach and exits 1 if there is any."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Data flows this way; each folder may include the ones before it.
ORDER = ["common", "config", "source", "decode", "derive", "sink", "pipeline", "replay", "state", "cli"]
MAX_LINES = 500
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources(top):
    for d, _, names in os.walk(os.path.join(ROOT, top)):
        for n in sorted(names):
            if n.endswith((".cpp", ".hpp")):
                yield os.path.join(d, n)


def main():
    problems = []
    for path in list(sources("src")) + list(sources("include")):
        rel = os.path.relpath(path, ROOT)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        lines = text.count("\n")
        if lines > MAX_LINES:
            problems.append(f"{rel}: {lines} lines, more than {MAX_LINES}")
        parts = rel.split(os.sep)
        if parts[0] == "src" and (len(parts) < 3 or parts[1] not in ORDER):
            problems.append(f"{rel}: not in a stage's folder ({', '.join('src/' + s for s in ORDER)})")
            continue
        for inc in INCLUDE.findall(text):
            top = inc.split("/")[0] if "/" in inc else None
            if parts[0] == "include":
                if top != "ailog":
                    problems.append(f"{rel}: a public header includes \"{inc}\"")
                continue
            if top is None or top == "ailog":
                continue  # the public headers, and version.hpp (generated)
            stage = parts[1]
            if top not in ORDER:
                problems.append(f"{rel}: includes \"{inc}\", not a stage's header")
            elif ORDER.index(top) > ORDER.index(stage):
                problems.append(f"{rel}: src/{stage}/ includes \"{inc}\" of the later src/{top}/")
    for p in problems:
        print(p)
    print(f"layout: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
