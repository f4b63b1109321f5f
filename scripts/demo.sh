#!/usr/bin/env bash
# The demo on a fresh machine: installs what it needs (the package with its sandbox extra; Prometheus and
# Alertmanager from Debian when run as root), then runs `velero-exporter demo` until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v prometheus >/dev/null || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "demo.sh: installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "demo.sh: ${missing[*]} not installed; the demo runs without them" >&2
    fi
fi
python3 -m pip install -q --disable-pip-version-check -e '.[sandbox]'
exec velero-exporter demo "$@"
