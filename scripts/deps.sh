#!/usr/bin/env bash
# Install the Debian packages the project needs, only those that are missing.
# Used by `make deps`, `make run`, `make test` and CI.
set -euo pipefail

PKGS=(
    build-essential pkg-config
    libmicrohttpd-dev libjansson-dev libpq-dev libcurl4-openssl-dev libssl-dev
    libmariadb-dev libhiredis-dev libcgroup-dev cgroup-tools libvirt-dev
    libvirt-daemon libvirt-daemon-driver-lxc libvirt-clients
    libcmocka-dev clang libclang-rt-14-dev openssl
    postgresql mariadb-server mariadb-backup redis-server
    python3-pytest python3-psycopg2 python3-pymysql python3-redis python3-requests
    wrk nodejs npm
    iproute2 nftables
    patroni etcd-server etcd-client redis-sentinel
)

missing=()
for p in "${PKGS[@]}"; do
    # nodejs/npm may come from outside Debian's packages (the machine's own Node.js)
    if [[ $p == nodejs || $p == npm ]]; then
        command -v "${p/nodejs/node}" >/dev/null 2>&1 && continue
    fi
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
    exit 0
fi

echo "deps: installing ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=sudo
    else
        echo "deps: cannot install packages: not root and no password-less sudo;" \
             "install them by hand: apt-get install ${missing[*]}" >&2
        exit 1
    fi
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
