#!/usr/bin/env bash
# `make run`: start dbaasd on 127.0.0.1:8080 with its embedded metadata store under ./var.
# Ctrl-C stops everything cleanly; running it again reuses the state.
set -euo pipefail
cd "$(dirname "$0")/.."

LISTEN=${DBAAS_LISTEN:-127.0.0.1:8080}
DATA=${DBAAS_DATA_DIR:-$PWD/var}

# As root, the embedded PostgreSQL runs as the unprivileged user "postgres", which must be able
# to enter every parent folder of the data directory (not so under /root, for instance).
if [[ $(id -u) -eq 0 && -z ${DBAAS_DATA_DIR:-} ]]; then
    mkdir -p "$DATA"
    if ! runuser -u postgres -- test -x "$DATA" 2>/dev/null; then
        DATA=/var/lib/dbaas-dev/$(echo "$PWD" | md5sum | cut -c1-12)
        echo "note: user postgres cannot reach $PWD/var; using $DATA instead"
        mkdir -p "$DATA"
    fi
fi

bin/dbaasd --data-dir "$DATA" --listen "$LISTEN" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' TERM
trap 'kill -INT $pid 2>/dev/null || true' INT

deadline=$((SECONDS + 60))
until curl -fsS "http://$LISTEN/healthz" >/dev/null 2>&1; do
    if ! kill -0 $pid 2>/dev/null; then
        wait $pid || exit $?
    fi
    if ((SECONDS > deadline)); then
        echo "dbaasd did not become ready within 60 s" >&2
        kill -TERM $pid
        wait $pid || true
        exit 1
    fi
    sleep 0.1
done

cat <<MSG

dbaasd is serving on http://$LISTEN (state in $DATA; Ctrl-C stops it).
The operator token is in $DATA/operator.token. In another shell:

  export PATH=\$PWD/bin:\$PATH DBAAS_URL=http://$LISTEN
  export DBAAS_TOKEN=\$(cat $DATA/operator.token)
  dbaasctl tenant create acme
  dbaasctl token create acme            # a token for acme's team
  dbaasctl plan create small --cpu 500m --memory 512Mi --disk 1Gi
  DBAAS_TOKEN=<acme's token> dbaasctl instance create db1 --engine postgres --plan small

MSG

status=0
wait $pid || status=$?
# A Ctrl-C interrupts the first wait; wait again for dbaasd's orderly stop.
if kill -0 $pid 2>/dev/null; then
    wait $pid || status=$?
fi
exit $status
