#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs it.
#   - Debian packages from requirements-apt.txt (tshark, tcpdump, sipp, iproute2, iptables, nftables, ...)
#     when running as root (CI is root); otherwise the tests that need them skip with the reason.
#   - the package itself, editable, with its [test] extras.
# Extra arguments go to pytest (e.g. scripts/test.sh -k capture).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    missing=()
    while read -r pkg; do
        pkg=${pkg%%#*}; pkg=${pkg//[[:space:]]/}
        [ -n "$pkg" ] || continue
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done < requirements-apt.txt
    if [ ${#missing[@]} -gt 0 ]; then
        echo "Installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        # wireshark-common asks whether non-root users may capture; answer once, without a prompt.
        echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
else
    echo "Not root or no apt-get: Debian packages not installed; tests that need them will skip with the reason."
fi

"$PYTHON" -m pip install -q --disable-pip-version-check -e '.[test]'
exec "$PYTHON" -m pytest -q "$@"
