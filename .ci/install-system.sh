#!/usr/bin/env bash
# Installs the system packages webgen's tests need on Debian 12 (bookworm), as root, when missing:
#  - chromium (headless browser tests; also ships the SwiftShader Vulkan ICD)
#  - mesa-vulkan-drivers from bookworm-backports (Mesa 25 lavapipe; bookworm's Mesa 22 is too old for Dawn)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
lvp_ok=0
if dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | grep -qE '^(2[5-9]|[3-9][0-9])\.'; then lvp_ok=1; fi
if [ ${#need[@]} -eq 0 ] && [ $lvp_ok -eq 1 ]; then echo "system packages: present"; exit 0; fi
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  cat > /etc/apt/sources.list.d/bookworm-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
apt-get update -qq
[ ${#need[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
if [ $lvp_ok -eq 0 ]; then
  apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
fi
echo "system packages: installed"
