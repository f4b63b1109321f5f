#!/usr/bin/env bash
# Every test of the project, on a fresh machine: installs what the tests need, then lint, types and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=()
command -v promtool >/dev/null || apt_packages+=(prometheus)
command -v prometheus-alertmanager >/dev/null || apt_packages+=(prometheus-alertmanager)
# The real client-go peer for the fake API server's fidelity tests (Debian's is old but real client-go).
command -v kubectl >/dev/null || apt_packages+=(kubernetes-client)
# The status page is checked in a real headless browser.
command -v chromium >/dev/null || apt_packages+=(chromium)
if ((${#apt_packages[@]})); then
    echo "test.sh: installing ${apt_packages[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]'

echo "test.sh: ruff"
ruff check exporter tests benchmarks scripts
ruff format --check exporter tests benchmarks scripts
echo "test.sh: mypy --strict"
mypy
mypy --strict benchmarks scripts/derive-crd-schemas.py
mypy tests
echo "test.sh: pytest"
python3 -m pytest -q -p no:cacheprovider "$@"
