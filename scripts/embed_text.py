#!/usr/bin/env python3
"""Writes a C++ file defining `extern const char NAME[]` with a text file's bytes:
embed_text.py INPUT OUTPUT NAME"""
import sys

src, out, name = sys.argv[1:4]
with open(src, encoding="utf-8") as f:
    text = f.read()
delim = "ailog_embed"
if f"){delim}\"" in text:
    sys.exit(f"embed_text.py: {src} holds the raw string's delimiter")
with open(out, "w", encoding="utf-8") as f:
    f.write(f"// Generated from {src} by scripts/embed_text.py.\n")
    f.write(f"namespace ailog {{\nextern const char {name}[];\n")
    f.write(f"const char {name}[] = R\"{delim}({text}){delim}\";\n}}  // namespace ailog\n")
