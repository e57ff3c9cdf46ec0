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
agent=
stop_all() {
    # The agent first (it stops the engines it runs), then dbaasd.
    [[ -n $agent ]] && kill -TERM "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
    kill -TERM $pid 2>/dev/null || true
}
trap stop_all TERM INT

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

# The local agent: registered once as host "local" (its token kept 0600 in the data dir).
if [[ $(id -u) -eq 0 ]]; then
    if [[ ! -s $DATA/agent.token ]]; then
        cpu=$(($(nproc) * 1000))
        mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024))
        disk=$(($(df -Pm "$DATA" | awk 'NR==2 {print $4}') / 2))
        (umask 077; curl -fsS -H "Authorization: Bearer $(cat "$DATA/operator.token")" \
            -H 'Content-Type: application/json' -X POST "http://$LISTEN/v1/hosts" \
            -d "{\"name\":\"local\",\"address\":\"127.0.0.1\",\"zone\":\"local\",\"cpu_millis\":$cpu,\"memory_mb\":$mem,\"disk_mb\":$disk,\"engines\":[\"postgres\",\"mysql\",\"redis\"]}" |
            /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' > "$DATA/agent.token")
    fi
    bin/dbaas-agent --server "http://$LISTEN" --token-file "$DATA/agent.token" \
        --data-dir "$DATA/agent" --advertise 127.0.0.1 --stop-engines-on-exit &
    agent=$!
else
    echo "note: not root, so no local agent (it needs root for cgroups): instances stay pending"
fi

cat <<MSG

dbaasd is serving on http://$LISTEN with a local agent (state in $DATA; Ctrl-C stops both).
The operator token is in $DATA/operator.token. In another shell:

  export PATH=\$PWD/bin:\$PATH DBAAS_URL=http://$LISTEN
  export DBAAS_TOKEN=\$(cat $DATA/operator.token)
  dbaasctl tenant create acme
  dbaasctl token create acme            # a token for acme's team
  dbaasctl plan create small --cpu 500m --memory 512Mi --disk 1Gi
  DBAAS_TOKEN=<acme's token> dbaasctl instance create db1 --engine postgres --plan small --wait
  psql "host=127.0.0.1 port=<port> user=app dbname=app"     # with the printed password

MSG

status=0
wait $pid || status=$?
# A Ctrl-C interrupts the first wait; wait again for dbaasd's orderly stop.
if kill -0 $pid 2>/dev/null; then
    wait $pid || status=$?
fi
[[ -n $agent ]] && kill -TERM "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
exit $status
