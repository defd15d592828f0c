#!/usr/bin/env bash
# Installs the system packages Tally builds against, if any is missing (Debian 12).
#   liblmdb-dev  - the journal and read models (LMDB)
#   libssl-dev   - OpenSSL libcrypto: Ed25519, SHA-256, HMAC
#   libzstd-dev  - compressed exports and snapshots
#   pkg-config   - how SwiftPM finds the three above
#   libjemalloc-dev - the allocator the executables link (faster than glibc's malloc here)
#   lmdb-utils, xxd - stock tools the auditors' by-hand check uses (and its test)
#   python3-pip     - to install jsonschema for the event-schema check
set -euo pipefail

packages=(liblmdb-dev libssl-dev libzstd-dev pkg-config libjemalloc-dev lmdb-utils xxd)
command -v python3 >/dev/null || packages+=(python3 python3-pip)
missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

sudo=""
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing system packages: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# The event-schema check (scripts/check-event-schemas.py, run by the tests) uses jsonschema;
# the OpenAPI response check (scripts/check-openapi.py) uses jsonschema and pyyaml.
if ! python3 -c "import jsonschema, yaml" 2>/dev/null; then
    echo "Installing the Python packages jsonschema and pyyaml"
    # A Debian-managed python3 refuses pip (PEP 668); its own packages are the fallback.
    python3 -m pip install --quiet jsonschema pyyaml 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages jsonschema pyyaml 2>/dev/null \
        || { ${sudo:-} apt-get install -y -qq python3-jsonschema python3-yaml; }
    python3 -c "import jsonschema, yaml" || { echo "could not install the Python packages jsonschema and pyyaml" >&2; exit 1; }
fi

command -v swift >/dev/null || { echo "swift is not on PATH (Swift 6.1 or later is needed)" >&2; exit 1; }
