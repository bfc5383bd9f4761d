#!/bin/sh
# The retrain job on a schedule: `carescreen retrain` every RETRAIN_EVERY_SECONDS (default: daily). It trains a
# challenger on moderators' decisions only when enough new ones exist (--min-new-decisions, default 50), and
# promotes it only if it passes the gates; the replicas pick the new champion up within their poll interval.
# Exit 3 (a refused challenger: a recall drop, suspected poisoning) is what an ML engineer should look at:
# alert on the "RETRAIN REFUSED" line.
set -u

every="${RETRAIN_EVERY_SECONDS:-86400}"
while :; do
    echo "retrain: starting ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
    # shellcheck disable=SC2086  # RETRAIN_ARGS is a list of flags
    carescreen retrain ${RETRAIN_ARGS:-}
    rc=$?
    case "$rc" in
        0) echo "retrain: done (promoted, or nothing to do)" ;;
        3) echo "RETRAIN REFUSED: the challenger failed a gate; the champion is unchanged (see the report above)" >&2 ;;
        *) echo "RETRAIN FAILED (exit $rc); trying again next time" >&2 ;;
    esac
    sleep "$every"
done
