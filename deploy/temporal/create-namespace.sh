#!/bin/sh
# The service's namespace with its retention (how long a closed workflow's history is kept),
# run by the temporal-namespace job once the server answers. Safe to repeat; a changed
# retention is applied to an existing namespace.
set -eu
: "${TEMPORAL_ADDRESS:?}" "${NAMESPACE:?}" "${RETENTION:?}"

tries=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" > /dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    echo "Temporal at $TEMPORAL_ADDRESS did not become healthy" >&2
    exit 1
  fi
  sleep 2
done

if temporal operator namespace describe --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" > /dev/null 2>&1; then
  temporal operator namespace update --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION"
else
  temporal operator namespace create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION"
fi
echo "namespace $NAMESPACE ready (retention $RETENTION)"
