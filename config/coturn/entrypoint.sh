#!/bin/sh
# Starts coturn on turnserver.conf (beside this script) plus what only the environment knows:
# the shared secret (and, while it is being changed, the previous one), the realm, and the
# public and private addresses of Docker's 1:1 port mapping. The whole file is written to a
# tmpfs only this user can read, so the secret is on no command line and in no image.
set -eu

for name in TURN_SECRET TURN_REALM VIDEO_PUBLIC_IP TURN_PRIVATE_IP; do
    eval "value=\${$name:-}"
    if [ -z "$value" ]; then
        echo "coturn: $name is not set" >&2
        exit 64
    fi
done
for name in TURN_SECRET TURN_REALM VIDEO_PUBLIC_IP TURN_PRIVATE_IP TURN_SECRET_PREVIOUS; do
    eval "value=\${$name:-}"
    case $value in
        *'
'* | *'#'*)
            echo "coturn: $name may not hold a line break or a #" >&2
            exit 64
            ;;
    esac
done

config=${TURN_RUN_DIR:-/tmp/coturn}/turnserver.conf
umask 077
mkdir -p "${config%/*}"
{
    cat "${TURN_TEMPLATE:-/etc/peerrooms-coturn/turnserver.conf}"
    printf 'pidfile=%s/turnserver.pid\n' "${config%/*}"
    printf 'static-auth-secret=%s\n' "$TURN_SECRET"
    # While the secret is being changed (docs/video-deploy.md), the one before it as well.
    if [ -n "${TURN_SECRET_PREVIOUS:-}" ]; then
        printf 'static-auth-secret=%s\n' "$TURN_SECRET_PREVIOUS"
    fi
    printf 'realm=%s\n' "$TURN_REALM"
    printf 'listening-ip=%s\n' "$TURN_PRIVATE_IP"
    printf 'relay-ip=%s\n' "$TURN_PRIVATE_IP"
    printf 'external-ip=%s/%s\n' "$VIDEO_PUBLIC_IP" "$TURN_PRIVATE_IP"
} >"$config"

exec turnserver -c "$config" "$@"
