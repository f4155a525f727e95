#!/usr/bin/env bash
# Installs everything `profile` needs on Debian 12, idempotently, from a fresh clone.
#   scripts/install.sh          runtime: libbpf, libdw, debug symbols for libc, npm packages, the build
#   scripts/install.sh --dev    also what the tests and benchmarks use: clang (BPF rebuild), peers
#                               (perf, bpftrace, BCC), chromium, debuginfod, go (pprof), rustc
# Run as root. Puppeteer never downloads a browser: Debian's chromium is used.
set -euo pipefail
cd "$(dirname "$0")/.."

runtime_packages=(libbpf1 libdw1 libelf1 libc6-dbg zstd ca-certificates)
dev_packages=(clang-14 llvm-14 libbpf-dev linux-libc-dev bpftool linux-perf bpftrace bpfcc-tools
  linux-headers-amd64 chromium elfutils debuginfod golang-go rustc gcc g++ make util-linux procps)

packages=("${runtime_packages[@]}")
if [[ "${1:-}" == "--dev" ]]; then packages+=("${dev_packages[@]}"); fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install.sh: run as root (sudo scripts/install.sh $*): it installs Debian packages" >&2
  exit 1
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  echo "install.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ "${1:-}" == "--dev" ]]; then
  # BCC compiles its programs against kernel headers at /lib/modules/$(uname -r)/build; this
  # kernel ships none, so point it at Debian's closest headers (docs/decisions.md).
  modules="/lib/modules/$(uname -r)"
  if [[ ! -e "$modules/build" ]]; then
    headers=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n "$headers" ]]; then
      mkdir -p "$modules"
      ln -sfn "$headers" "$modules/build"
      # include/linux/kconfig.h, which BCC includes through `source`, lives in the -common package.
      common="${headers%-amd64}-common"
      if [[ -d "$common" ]]; then ln -sfn "$common" "$modules/source"; else ln -sfn "$headers" "$modules/source"; fi
    fi
  fi
fi

export PUPPETEER_SKIP_DOWNLOAD=true
if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm run --silent build
fi
ln -sfn "$PWD/bin/run.js" /usr/local/bin/profile
echo "install.sh: ready — try: profile doctor"
