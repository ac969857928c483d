#!/bin/sh
# Licenseflow's namespace and custom search attributes on the Temporal cluster. Run by
# compose.cluster.yaml's `temporal-setup` job once the server answers, before the worker and
# the API start; safe to repeat (an existing namespace is kept, and an existing search
# attribute is skipped). Arguments: the search attributes as Name=Type.
# Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, NAMESPACE_RETENTION (e.g. 30d).
set -eu

address=${TEMPORAL_ADDRESS:?}
namespace=${TEMPORAL_NAMESPACE:?}
retention=${NAMESPACE_RETENTION:?}

# retry N COMMAND...: run COMMAND until it succeeds, at most N times, 2 s apart
retry() {
    tries=$1
    shift
    until "$@"; do
        tries=$((tries - 1))
        if [ "$tries" -le 0 ]; then
            echo "gave up: $*" >&2
            return 1
        fi
        sleep 2
    done
}

retry 90 temporal operator cluster health --address "$address"
if ! temporal operator namespace describe --namespace "$namespace" --address "$address" >/dev/null 2>&1; then
    retry 10 temporal operator namespace create --namespace "$namespace" \
        --retention "$retention" --address "$address"
fi
for pair in "$@"; do
    # a new namespace reaches every frontend within seconds: retried until it has
    retry 30 temporal operator search-attribute create --namespace "$namespace" \
        --address "$address" --name "${pair%%=*}" --type "${pair#*=}"
done
echo "namespace $namespace: ready"
