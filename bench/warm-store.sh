#!/bin/bash
# Signs alice in with dhis2-auth (the emulator's own OAuth2 server, the
# browser's part driven by curl, as tests/helper/run does), so that
# `dhis2-auth token` then reads a warm store. For bench/run.js:
#
#   EMU_URL=... EMU_CA=... EMU_CONTROL_PORT=... bench/warm-store.sh HOME
#
# HOME is made and gets the configuration and the token store. Exits 0
# once the store holds a token.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/support/browser.sh
. "$top/tests/support/browser.sh"
home=$1
auth=$top/build/dhis2-auth
mkdir -p "$home/.config/dhis2-auth"
export HOME=$home XDG_CONFIG_HOME=$home/.config
export XDG_STATE_HOME=$home/.local/state
port=$(node -e '
  const s = require("net").createServer().listen(0, "127.0.0.1", () => {
    process.stdout.write(String(s.address().port)); s.close(); });')
cat >"$home/.config/dhis2-auth/config" <<EOF2
url = $EMU_URL
ca_file = $EMU_CA
client_id = dhis2-auth
scope = ALL openid email
token_store = file
redirect_port = $port
EOF2
chmod 0600 "$home/.config/dhis2-auth/config"
# DHIS2 takes the JWTs of its own server only when told to (dhis.conf).
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
  -d '{"jwt_bearer":true}' "http://127.0.0.1:$EMU_CONTROL_PORT/oauth2"
"$auth" login --no-browser --timeout 20 >"$home/out" 2>"$home/err" &
pid=$!
for _ in $(seq 100); do
  grep -q 'https://' "$home/err" && break
  sleep 0.1
done
url=$(grep -o 'https://[^ ]*authorize[^ ]*' "$home/err" | head -n 1)
redirect=$(oauth2_browse "$home/jar" "$EMU_CA" "$url" alice Alice-pw-1)
curl -s -o /dev/null "$redirect"
wait "$pid" && "$auth" token >/dev/null
