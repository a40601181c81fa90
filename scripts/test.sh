#!/usr/bin/env bash
# The one test command: unit + integration tests, release build, then the end-to-end suite
# (compat/) that drives the real binary with the AWS CLI, boto3 and real function runtimes
# (its nesting tests also against a debug build). Fails if any part fails.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh -k tutorial     # extra arguments go to pytest
#   TEST_SKIP_CARGO_TEST=1 scripts/test.sh   # skip `cargo test` (quick end-to-end iteration)
#
# Needs only a Rust toolchain and python3; installs the Python clients into .venv from PyPI
# (once; again only when compat/requirements.txt changes).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

step() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'scripts/test.sh: %s\n' "$*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo not found (install a Rust toolchain with rustup)"
PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null || die "$PYTHON not found"

# 0. The generated request surface (crates/shapes/src/generated/) matches data/models/.
step "cargo run -p tributary-codegen -- --check"
cargo run -q -p tributary-codegen -- --check \
    || die "generated code (crates/shapes/src/generated/, crates/services/*/src/types.rs) is stale: run 'cargo run -p tributary-codegen' and commit"

# 1. Unit and integration tests of every crate.
if [[ "${TEST_SKIP_CARGO_TEST:-0}" != 1 ]]; then
    step "cargo test --workspace"
    cargo test --workspace
fi

# 2. The binaries the end-to-end tests run.
step "cargo build --release -p tributary -p rust-echo"
cargo build --release -p tributary -p rust-echo
# The README's first command (`cargo run --release -- serve`) must find the server binary.
cargo run --release -q -- --version >/dev/null \
    || die "'cargo run --release' does not run the tributary binary (check default-members)"

# 3. A virtualenv with the AWS CLI, boto3, pytest and awslambdaric.
VENV="$ROOT/.venv"
REQ="$ROOT/compat/requirements.txt"
STAMP="$VENV/.requirements.sha256"

venv_ok() { [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import sys' 2>/dev/null; }

if ! venv_ok; then
    step "creating $VENV"
    rm -rf "$VENV"
    if ! "$PYTHON" -m venv "$VENV"; then
        # Debian's system python ships venv separately.
        if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
            rm -rf "$VENV"
            "$PYTHON" -m venv "$VENV"
        else
            die "'$PYTHON -m venv' failed; install python3-venv"
        fi
    fi
fi

want="$( { cat "$REQ"; "$VENV/bin/python" -VV; } | sha256sum | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [[ "$want" != "$have" ]]; then
    step "pip install -r compat/requirements.txt"
    rm -f "$STAMP"
    pip=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)
    # awslambdaric ships manylinux wheels; only where none fits must it build from source,
    # which needs a C/C++ toolchain and cmake/autotools (Debian packages).
    if ! "${pip[@]}" --only-binary awslambdaric -r "$REQ"; then
        if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
            step "no awslambdaric wheel for this python: installing its build dependencies"
            apt-get update -qq
            apt-get install -y -qq cmake autoconf automake libtool make g++ >/dev/null
            "${pip[@]}" -r "$REQ"
        else
            die "pip install failed (awslambdaric may need cmake, autoconf, automake, libtool, make, g++)"
        fi
    fi
    "$VENV/bin/python" -c 'import boto3, botocore, pytest, awslambdaric' \
        || die "the virtualenv is missing a package after pip install"
    printf '%s\n' "$want" >"$STAMP"
fi
[[ -x "$VENV/bin/aws" ]] || die "$VENV/bin/aws missing (awscli not installed?)"

# 4. npm's aws-lambda-ric (a Node runtime client the Node tests run) builds native code: it needs
# cmake and autotools. Install them where we can; elsewhere that one test skips and says why.
if command -v npm >/dev/null && { ! command -v cmake || ! command -v autoreconf || ! command -v libtoolize; } >/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        step "installing cmake and autotools for npm's aws-lambda-ric"
        { apt-get update -qq && apt-get install -y -qq cmake autoconf automake libtool make g++ >/dev/null; } \
            || printf 'scripts/test.sh: could not install cmake/autotools; the aws-lambda-ric test will skip\n' >&2
    fi
fi

# 5. The SAM CLI, in a virtualenv of its own: it pins a boto3 older than compat/'s.
SAM_VENV="$ROOT/.venv-sam"
SAM_REQ="$ROOT/compat/requirements-sam.txt"
SAM_STAMP="$SAM_VENV/.requirements.sha256"
want="$( { cat "$SAM_REQ"; "$PYTHON" -VV; } | sha256sum | cut -d' ' -f1)"
if [[ "$want" != "$(cat "$SAM_STAMP" 2>/dev/null || true)" ]]; then
    step "pip install -r compat/requirements-sam.txt (into .venv-sam)"
    rm -rf "$SAM_VENV"
    "$PYTHON" -m venv "$SAM_VENV" || die "'$PYTHON -m venv' failed for the SAM CLI"
    "$SAM_VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$SAM_REQ" \
        || die "pip install of the SAM CLI failed"
    [[ -x "$SAM_VENV/bin/sam" ]] || die "$SAM_VENV/bin/sam missing after pip install"
    printf '%s\n' "$want" >"$SAM_STAMP"
fi
export SAM_CLI="$SAM_VENV/bin/sam"

# 6. The CDK example's packages (npm's aws-cdk-lib), which the CDK test synthesizes with.
CDK_APP="$ROOT/examples/cdk-dynamodb"
if ! command -v npm >/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        step "installing node and npm (the CDK test synthesizes a CDK app)"
        apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null || die "could not install npm"
    else
        die "npm not found: install Node.js (the CDK test synthesizes a CDK app)"
    fi
fi
want="$(sha256sum "$CDK_APP/package-lock.json" | cut -d' ' -f1)"
if [[ "$want" != "$(cat "$CDK_APP/node_modules/.lock.sha256" 2>/dev/null || true)" ]]; then
    step "npm ci (examples/cdk-dynamodb)"
    (cd "$CDK_APP" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in examples/cdk-dynamodb"
    printf '%s\n' "$want" >"$CDK_APP/node_modules/.lock.sha256"
fi

export PYTHONDONTWRITEBYTECODE=1
status=0

# 7. The nesting tests once more against a debug build, whose stack frames are the largest (and
# `cargo run` without --release is how many users start): deeply nested input must get AWS's
# error there too, not overflow the stack. Cheap after `cargo test --workspace` built the same
# profile. Extra arguments are for the full run below, so they are not passed here.
step "cargo build -p tributary (debug)"
cargo build -p tributary
step "pytest compat/test_nesting.py (debug build)"
TRIBUTARY_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/tributary" \
    "$VENV/bin/python" -m pytest compat/test_nesting.py -q || status=$?

# 8. End-to-end tests against the real binary.
step "pytest compat"
export TRIBUTARY_BIN="${TRIBUTARY_BIN:-$ROOT/target/release/tributary}"
"$VENV/bin/python" -m pytest compat -q "$@" || status=$?
exit "$status"
