#!/usr/bin/env bash
# Set up a development environment in .venv: the package, editable, with the
# ipopt/test/examples extras (or those in SKNEURALODE_EXTRAS, e.g.
# "ipopt,test,examples,bench,docs" in CI). That is all the numpy engine (the default)
# needs: IPOPT comes from PyPI (cyipopt-wheels), so no root, apt or compiler.
#
# Environment:
#   SKNEURALODE_EXTRAS    extras to install (default: ipopt,test,examples)
#   SKNEURALODE_PYNUMERO  1: also give the pyomo engine an IPOPT route (`make test` sets
#                         it, so CI tests both engines): nothing to do when an `ipopt`
#                         executable answers `ipopt -v`; otherwise install
#                         libamplsolver-dev (apt, as root), cmake and a C++ compiler, and
#                         build Pyomo's PyNumero ASL library into
#                         ${PYOMO_CONFIG_DIR:-~/.pyomo}/lib.
#                         0 or unset (the default, e.g. `make demo`): neither apt nor a
#                         build; what the pyomo engine would find is only reported.
#
# Idempotent: a second run only checks and takes seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
PY="$VENV/bin/python"
PIP="$VENV/bin/pip"
STAMP="$VENV/.skneuralode-installed"
BUILD_LOG="$VENV/pynumero-build.log"
PIP_LOG="$VENV/pip-install.log"
ASL_INCLUDE_DIR=/usr/include/ampl-netlib-solvers
ASL_FALLBACK_LIB=/usr/lib/x86_64-linux-gnu/libamplsolver.so
EXTRAS="${SKNEURALODE_EXTRAS:-ipopt,test,examples}"
PYNUMERO="${SKNEURALODE_PYNUMERO:-0}"

say() { printf '[bootstrap] %s\n' "$*"; }
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }

case "$PYNUMERO" in
    0 | 1) ;;
    *) die "SKNEURALODE_PYNUMERO must be 0 or 1; got '$PYNUMERO'" ;;
esac

# Run a command as root: directly when root, through sudo when it exists.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $* (not root and no sudo)"
    fi
}

APT_UPDATED=0
apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        die "apt-get not found; install these system packages by hand, then rerun: $*"
    fi
    say "installing system packages: $*"
    if [ "$APT_UPDATED" -eq 0 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- 1. virtualenv -----------------------------------------------------------
if [ ! -x "$PY" ]; then
    say "creating virtualenv $VENV"
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
        # Debian/Ubuntu's system Python ships venv separately.
        rm -rf "$VENV"
        apt_install python3-venv
        python3 -m venv "$VENV"
    fi
    "$PIP" install -q --upgrade pip
fi

# --- 2. the package, editable with extras (skipped while the stamp matches) ---
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $EXTRAS"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    say "pip install -e .[$EXTRAS]"
    # pip -q still prints setuptools' build warnings: keep them in a log instead.
    if ! "$PIP" install -q -e ".[$EXTRAS]" >"$PIP_LOG" 2>&1; then
        cat "$PIP_LOG" >&2
        die "pip install failed (log above, also in $PIP_LOG)"
    fi
    printf '%s\n' "$want" >"$STAMP"
else
    say "package already installed (pyproject.toml unchanged)"
fi

# --- 3. an IPOPT route for the pyomo engine (only with SKNEURALODE_PYNUMERO=1) ---
# An `ipopt` executable that answers `ipopt -v` (exit 0, names IPOPT), as skneuralode
# itself checks: a broken one on PATH does not count.
ipopt_works() {
    local exe out
    exe="$(command -v ipopt 2>/dev/null)" || return 1
    if command -v timeout >/dev/null 2>&1; then
        out="$(timeout 60 "$exe" -v 2>/dev/null)" || return 1
    else
        out="$("$exe" -v 2>/dev/null)" || return 1
    fi
    grep -qi ipopt <<<"$out"
}

asl_available() {
    "$PY" -c "from pyomo.contrib.pynumero.asl import AmplInterface; import sys; sys.exit(0 if AmplInterface.available() else 1)" \
        >/dev/null 2>&1
}

build_pynumero() {
    say "PyNumero ASL library missing; building it"
    if ! dpkg -s libamplsolver-dev >/dev/null 2>&1; then
        command -v apt-get >/dev/null 2>&1 \
            || die "apt-get not found; install the AMPL Solver Library (Debian: libamplsolver-dev), cmake and a C++ compiler, then rerun"
        apt_install libamplsolver-dev
    fi
    tools=()
    command -v cmake >/dev/null 2>&1 || tools+=(cmake)
    command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 || tools+=(g++)
    if [ "${#tools[@]}" -gt 0 ]; then
        apt_install "${tools[@]}"
    fi

    asl_lib="$(dpkg -L libamplsolver-dev 2>/dev/null | grep 'libamplsolver.so$' | head -n1 || true)"
    asl_lib="${asl_lib:-$ASL_FALLBACK_LIB}"
    [ -e "$asl_lib" ] || die "libamplsolver.so not found (looked in dpkg -L libamplsolver-dev and $ASL_FALLBACK_LIB)"

    say "building PyNumero against $asl_lib (log: $BUILD_LOG)"
    if ! "$PY" -m pyomo.contrib.pynumero.build \
        "-DASL_INCLUDE_DIR=$ASL_INCLUDE_DIR" "-DASL_LIBRARY=$asl_lib" >"$BUILD_LOG" 2>&1; then
        cat "$BUILD_LOG" >&2
        die "PyNumero build failed (log above, also in $BUILD_LOG)"
    fi
    if ! asl_available; then
        cat "$BUILD_LOG" >&2
        die "PyNumero build finished but AmplInterface is still unavailable"
    fi
    say "PyNumero ASL library built into ${PYOMO_CONFIG_DIR:-$HOME/.pyomo}/lib"
}

if ipopt_works; then
    say "pyomo engine: ipopt executable $(command -v ipopt) answers \`ipopt -v\`; no PyNumero build needed"
elif asl_available; then
    say "pyomo engine: PyNumero ASL library available"
elif [ "$PYNUMERO" = 1 ]; then
    build_pynumero
else
    say "pyomo engine: no working ipopt executable, no PyNumero ASL library; not building it" \
        "(the numpy engine does not need it; SKNEURALODE_PYNUMERO=1 builds it, as make test does)"
fi

# --- 4. report ------------------------------------------------------------------
say "IPOPT routes (works, what was found):"
"$PY" -c "import skneuralode; print(skneuralode.available_solvers())"
