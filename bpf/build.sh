#!/usr/bin/env bash
# Builds bpf/profile.bpf.o with Debian's clang-14 (`npm run build:bpf`), reproducibly: the output
# depends only on the sources and the compiler, not on the checkout path or the time, so CI can
# rebuild it and compare it byte for byte with the committed object (test/record/bpf-object.test.ts).
#   bpf/build.sh [OUTPUT]    default OUTPUT: bpf/profile.bpf.o
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/profile.bpf.o}"
clang="${CLANG:-clang-14}"
command -v "$clang" >/dev/null || { echo "build.sh: $clang not found (apt-get install clang-14)" >&2; exit 1; }
arch="$(uname -m | sed 's/x86_64/x86/; s/aarch64/arm64/')"
# -g keeps the BTF that libbpf needs (map definitions, CO-RE relocations); the debug prefix maps
# make the DWARF/BTF file names relative to bpf/ so the object is the same in every checkout.
cd "$here"
"$clang" -target bpf -O2 -g -D__TARGET_ARCH_"$arch" \
  -I/usr/include/"$(uname -m)"-linux-gnu \
  -fdebug-prefix-map="$here"=. -fdebug-compilation-dir=. \
  -c profile.bpf.c -o "$out.tmp"
# Drop the DWARF sections (BTF, .BTF.ext stay): they only add size and build paths.
llvm-strip-14 -g "$out.tmp" 2>/dev/null || true
mv "$out.tmp" "$out"
