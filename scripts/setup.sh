#!/usr/bin/env bash
# Installs what callcards needs on a fresh Debian machine; safe to run again.
#   scripts/setup.sh          Python packages in .venv
#   scripts/setup.sh --test   also Debian's debootstrap, chromium, sox (with MP3), tcpdump, gcc (the
#                             browser tests' loopback preload) and the Asterisk 22 sandbox root
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

debian_packages=(python3-venv)
if [ "${1:-}" = "--test" ]; then
  # tcpdump, gcc: the softphone tests' packet capture and loopback preload; iproute2: `ss`
  # tells the live tests which gunicorn worker serves a stream.
  debian_packages+=(debootstrap chromium sox libsox-fmt-mp3 ca-certificates tcpdump gcc libc6-dev iproute2)
fi
missing=()
for package in "${debian_packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  python3 -m venv .venv
fi
echo "== installing Python packages"
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'

if [ "${1:-}" = "--test" ]; then
  echo "== preparing the Asterisk 22 sandbox root (cached in ${CALLCARDS_CACHE_DIR:-$HOME/.cache/callcards})"
  as_root .venv/bin/python -c "from callcards.sandbox import ensure_root; print(ensure_root())"
fi
