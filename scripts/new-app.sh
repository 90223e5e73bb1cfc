#!/usr/bin/env bash
# Builds the application of the README's "Your own application" section in a fresh crate
# outside this workspace, from exactly the files the README shows (each code block that
# follows a `<!-- new-app: PATH -->` marker), with `channels-api` pointing at this
# repository. Proves that the section compiles as a newcomer would copy it.
#
#   scripts/new-app.sh            # build only
#   KEEP=1 scripts/new-app.sh     # keep the crate and print where it is
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
app=$(mktemp -d)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$app"' EXIT

python3 - "$repo/README.md" "$app" <<'PY'
import os, re, sys
readme, root = sys.argv[1], sys.argv[2]
text = open(readme).read()
blocks = re.findall(r"<!-- new-app: (\S+) -->\n```[a-z]*\n(.*?)```", text, re.S)
if not blocks:
    sys.exit("no new-app blocks in the README")
for path, body in blocks:
    target = os.path.join(root, path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    open(target, "w").write(body)
    print(f"new-app: {path}")
PY

# The README's path is where a reader cloned the repository; here it is this checkout.
sed -i "s|^channels-api = { path = \"[^\"]*\" }|channels-api = { path = \"$repo/channels-api\" }|" \
    "$app/Cargo.toml"
grep -q "path = \"$repo/channels-api\"" "$app/Cargo.toml" || {
    echo "new-app: the README's Cargo.toml has no channels-api path dependency" >&2
    exit 1
}
# Dependencies already built for the workspace are reused.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
(cd "$app" && cargo build --quiet)
echo "new-app: built"
[ -z "${KEEP:-}" ] || echo "new-app: kept in $app"
