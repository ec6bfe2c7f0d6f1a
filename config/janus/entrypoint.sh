#!/bin/sh
# Renders Janus's configuration from the templates (the *.jcfg files beside this script in
# the repository) with the values the container was given, into a folder only this user can
# read (a tmpfs in docker-compose.yml), then runs Janus on it.
set -eu

templates=${JANUS_TEMPLATES:-/etc/peerrooms-janus}
out=${JANUS_RUN_DIR:-/tmp/janus}
names="JANUS_API_SECRET JANUS_ADMIN_SECRET JANUS_ADMIN_KEY JANUS_ACL VIDEO_PUBLIC_IP WEB_ORIGIN"

for name in $names; do
    eval "value=\${$name:-}"
    if [ -z "$value" ]; then
        echo "janus: $name is not set" >&2
        exit 64
    fi
    # The values go between double quotes in libconfig files.
    case $value in
        *'"'* | *'\'* | *'
'*)
            echo "janus: $name may not hold a quote, a backslash or a line break" >&2
            exit 64
            ;;
    esac
    export "$name"
done

umask 077
mkdir -p "$out"
variables=$(for name in $names; do printf '${%s} ' "$name"; done)
for template in "$templates"/*.jcfg; do
    envsubst "$variables" <"$template" >"$out/${template##*/}"
done

exec janus --disable-colors --configs-folder="$out" --config="$out/janus.jcfg" "$@"
