#!/usr/bin/env bash
# WebSocket conformance: runs the Autobahn TestSuite's fuzzing client against the
# framework's connection loop (the `conformance` example, an echo server), then prints a
# summary of the report and exits non-zero if any case failed.
#
#   scripts/autobahn/run.sh            # every case but the excluded ones
#   CASES='1.*,2.*' scripts/autobahn/run.sh
#
# Everything it needs is set up under target/autobahn (reused on the next run): a Python 2
# virtualenv with the suite, the report in target/autobahn/reports/.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
work=$root/target/autobahn
venv=$work/venv
python2=${AUTOBAHN_PYTHON2:-$HOME/.pyenv/versions/2.7.18/bin/python}
reports=$work/reports

step() { printf '\n==> %s\n' "$*"; }

mkdir -p "$work"

# The suite is Python 2 only.
if [ ! -x "$python2" ]; then
    echo "error: CPython 2.7 not found at $python2; the Autobahn TestSuite needs Python 2" \
        "(set AUTOBAHN_PYTHON2 to its interpreter)" >&2
    exit 1
fi

# The suite's native dependencies build from source: OpenSSL's and Python's headers, a C
# compiler, libffi.
need=()
for package in build-essential libssl-dev libffi-dev; do
    dpkg -s "$package" >/dev/null 2>&1 || need+=("$package")
done
if [ ${#need[@]} -gt 0 ]; then
    step "system packages: ${need[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi

if [ ! -x "$venv/bin/wstest" ]; then
    step "Autobahn TestSuite: virtualenv in $venv"
    python3 -m pip install --quiet --disable-pip-version-check \
        --target "$work/venv-tool" 'virtualenv<20.22'
    rm -rf "$venv"
    PYTHONPATH="$work/venv-tool" python3 -m virtualenv -q -p "$python2" "$venv"
    # The 25.10.1 sdist of autobahntestsuite leaves out its requirements file: its
    # dependencies, pinned to versions that still support Python 2, come first.
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        txaio==2.1.0 incremental==16.10.1 pyOpenSSL==19.1.0 cryptography==3.3.2 \
        Twisted==19.10.0 zope.interface==4.6.0 jinja2==2.11.3 markupsafe==1.1.1 \
        Werkzeug==1.0.1 klein==17.10.0 service_identity==18.1.0 unittest2==1.1.0 \
        six==1.16.0 'autobahn[accelerate,twisted]==0.10.9'
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
        autobahntestsuite==25.10.1
fi

# A debug build: the suite runs in under half a minute against it, with overflow checks
# and debug assertions on, and it needs no release build of the workspace.
step "conformance server: build"
cargo build -p channels-api-examples --example conformance
server_bin=${CARGO_TARGET_DIR:-$root/target}/debug/examples/conformance

step "conformance server: start"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
server_log=$work/server.log
"$server_bin" "127.0.0.1:$port" >"$server_log" 2>&1 &
server_pid=$!
stop_server() {
    if kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}
trap stop_server EXIT
for _ in $(seq 1 100); do
    grep -q '^conformance: echoing on ws://' "$server_log" && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "error: the conformance server exited:" >&2
        cat "$server_log" >&2
        exit 1
    fi
    sleep 0.1
done
if ! grep -q '^conformance: echoing on ws://' "$server_log"; then
    echo "error: the conformance server did not start in 10 s:" >&2
    cat "$server_log" >&2
    exit 1
fi
url="ws://127.0.0.1:$port/"
echo "echo server on $url"

step "Autobahn fuzzing client"
# Excluded: 12.* and 13.* test permessage-deflate, an extension the server does not
# negotiate (it accepts no Sec-WebSocket-Extensions), so they test nothing of it.
rm -rf "$reports"
mkdir -p "$reports"
spec=$work/spec.json
cat >"$spec" <<EOF
{
    "outdir": "$reports",
    "servers": [{"agent": "channels-api", "url": "$url"}],
    "cases": ["${CASES:-*}"],
    "exclude-cases": ["12.*", "13.*"],
    "exclude-agent-cases": {}
}
EOF
if [ -n "${CASES:-}" ]; then
    # A comma-separated list of patterns.
    python3 - "$spec" "$CASES" <<'EOF'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["cases"] = [c.strip() for c in sys.argv[2].split(",") if c.strip()]
json.dump(spec, open(sys.argv[1], "w"), indent=4)
EOF
fi
(cd "$work" && "$venv/bin/wstest" -m fuzzingclient -s "$spec")
stop_server

step "summary"
python3 - "$reports/index.json" <<'EOF'
import json, sys
from collections import Counter

with open(sys.argv[1]) as f:
    index = json.load(f)
cases = index["channels-api"]

def key(case_id):
    return [int(part) for part in case_id.split(".")]

passing = {"OK", "NON-STRICT", "INFORMATIONAL"}
behavior = Counter(r["behavior"] for r in cases.values())
close = Counter(r["behaviorClose"] for r in cases.values())
print("cases run: %d (12.* and 13.* excluded: permessage-deflate is not negotiated)" % len(cases))
order = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
print("behavior:      " + ", ".join("%s %d" % (b, behavior.get(b, 0)) for b in order
                                    + sorted(set(behavior) - set(order))))
print("behaviorClose: " + ", ".join("%s %d" % (b, close.get(b, 0)) for b in order
                                    + sorted(set(close) - set(order))))
bad = []
for case_id in sorted(cases, key=key):
    result = cases[case_id]
    if result["behavior"] not in passing or result["behaviorClose"] not in passing:
        bad.append(case_id)
        print("  %-8s behavior %-13s close %-13s %s" % (
            case_id, result["behavior"], result["behaviorClose"], result.get("reportfile", "")))
non_strict = sorted((c for c in cases if cases[c]["behavior"] == "NON-STRICT"), key=key)
if non_strict:
    print("non-strict: " + " ".join(non_strict))
passed = len(cases) - len(bad)
print("%d passed, %d failed" % (passed, len(bad)))
sys.exit(1 if bad else 0)
EOF
