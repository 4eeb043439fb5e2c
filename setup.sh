#!/usr/bin/env bash
# setup.sh: everything sgfw needs on a fresh Debian 12 machine.
#
#   ./setup.sh demo    install packages, build, run the appliance's main job:
#                      a client and a web server in two network namespaces,
#                      real traffic through sgfw, a report (tests/e2e/demo.py;
#                      extra arguments go to it, e.g. --hold)
#   ./setup.sh test    install packages, build, run the whole test suite
#   ./setup.sh         install packages and build
#
# Run as root on a bare machine (packages are installed with apt-get); as
# another user it works once the packages are there.  Idempotent: installed
# packages are skipped, existing build directories are reused.  Every package
# the project needs is listed here and nowhere else, so that CI on a clean
# clone and a bare machine both work.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir=${SGFW_BUILD_DIR:-"$here/build"}
asan_dir=${SGFW_ASAN_BUILD_DIR:-"$here/build-asan"}
fuzz_dir=${SGFW_FUZZ_BUILD_DIR:-"$here/build-fuzz"}
fuzz_seconds=${SGFW_FUZZ_SECONDS:-30}

packages=(
  build-essential pkg-config meson ninja-build clang clang-format libclang-rt-14-dev
  libdpdk-dev dpdk
  libhyperscan-dev
  libtomlplusplus-dev nlohmann-json3-dev libcli11-dev libcpp-httplib-dev
  libboost-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-scapy iproute2 iputils-ping ethtool curl tcpdump
  nftables prometheus
)

log() { printf '\n== %s\n' "$*"; }

install_packages() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup.sh: missing packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# build DIR BUILDTYPE [meson options...]
build() {
  local dir=$1 buildtype=$2
  shift 2
  if [[ ! -f "$dir/build.ninja" ]]; then
    meson setup "$dir" "$here" -Dbuildtype="$buildtype" -Dwerror=true "$@"
  fi
  ninja -C "$dir"
}

check_format() {
  log "clang-format"
  local bad
  bad=$(cd "$here" && git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run 2>&1 | grep -oE '^[^ :]+\.(cpp|hpp):[0-9]+' | sort -u || true)
  if [[ -n "$bad" ]]; then
    echo "not clang-formatted (run clang-format -i on these files):" >&2
    echo "$bad" >&2
    return 1
  fi
}

# libFuzzer targets (clang, ASan, UBSan), each for a bounded time from a
# generated seed corpus; a crash or sanitizer report fails the run.
run_fuzzers() {
  log "fuzzing: parser and worker path, ${fuzz_seconds} s each (libFuzzer, ASan, UBSan)"
  if [[ ! -f "$fuzz_dir/build.ninja" ]]; then
    CC=clang CXX=clang++ meson setup "$fuzz_dir" "$here" -Dbuildtype=debugoptimized -Dwerror=true \
      -Dfuzz=enabled -Db_sanitize=address,undefined -Dperf=disabled
  fi
  ninja -C "$fuzz_dir" tests/parser_fuzz tests/worker_fuzz
  local corpus="$fuzz_dir/corpus"
  python3 "$here/tests/fuzz/make_seeds.py" "$corpus"
  for target in parser worker; do
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      "$fuzz_dir/tests/${target}_fuzz" -max_total_time="$fuzz_seconds" -print_final_stats=1 "$corpus/$target" \
      > "$fuzz_dir/${target}_fuzz.log" 2>&1 || { tail -50 "$fuzz_dir/${target}_fuzz.log"; return 1; }
    grep -E "^stat::number_of_executed_units" "$fuzz_dir/${target}_fuzz.log" | sed "s/^/  $target: /"
  done
}

run_tests() {
  check_format
  log "tests (release build)"
  meson test -C "$build_dir" --print-errorlogs
  log "tests under AddressSanitizer and UndefinedBehaviorSanitizer"
  build "$asan_dir" debugoptimized -Db_sanitize=address,undefined -Dperf=disabled
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 meson test -C "$asan_dir" --print-errorlogs
  run_fuzzers
  log "all tests passed"
}

install_packages
build "$build_dir" release

case "${1:-}" in
  "") ;;
  demo) shift; SGFW_BIN="$build_dir/sgfw" exec /usr/bin/python3 "$here/tests/e2e/demo.py" "$@" ;;
  test) run_tests ;;
  *) echo "setup.sh: unknown command '$1' (expected: demo | test)" >&2; exit 2 ;;
esac
