# Starting the DHIS2 emulator from a shell script (sourced, bash).
#
#   emulator_start DIR   makes the test PKI, starts the emulator over TLS on
#                        127.0.0.1 and sets EMU_URL, EMU_CA, EMU_CONTROL_PORT
#                        and EMU_PID; its stdin is fd 8, so it also exits
#                        when the script does.
#   emulator_stop        stops it by pid.
#   emulator_ctl M PATH [JSON]  calls its control API (with JSON as the
#                        body); prints the reply.
#   fixture_get USER password|secret|pat   a value from the fixture.

emu_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
emu_fixture=$emu_top/tests/dhis2-emulator/fixtures/users.json

emulator_start() {
  local dir=$1
  "$emu_top/tests/support/mkpki.sh" "$emu_top/build/test-pki" \
    >"$dir/pki.log" 2>&1 || return 1
  mkfifo "$dir/emulator.in"
  node "$emu_top/tests/dhis2-emulator/server.js" --fixture "$emu_fixture" \
    --tls-cert "$emu_top/build/test-pki/server.pem" \
    --tls-key "$emu_top/build/test-pki/server.key" \
    <"$dir/emulator.in" >"$dir/emulator.out" 2>"$dir/emulator.err" &
  EMU_PID=$!
  exec 8>"$dir/emulator.in"
  for _ in $(seq 100); do
    grep -q '"ready":true' "$dir/emulator.out" && break
    sleep 0.1
  done
  local port
  port=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$dir/emulator.out")
  EMU_CONTROL_PORT=$(sed -n 's/.*"control_port":\([0-9]*\).*/\1/p' \
    "$dir/emulator.out")
  [ -n "$port" ] || return 1
  EMU_URL=https://127.0.0.1:$port
  EMU_CA=$emu_top/build/test-pki/ca.pem
}

emulator_stop() {
  exec 8>&- 2>/dev/null
  if [ -n "${EMU_PID:-}" ]; then
    kill "$EMU_PID" 2>/dev/null
    wait "$EMU_PID" 2>/dev/null
    EMU_PID=""
  fi
}

emulator_ctl() {
  node -e '
    const [method, path, port, body] = process.argv.slice(1);
    const req = require("http").request({ host: "127.0.0.1", port, path,
      method, timeout: 5000 }, (res) => {
      let b = "";
      res.on("data", (c) => (b += c));
      res.on("end", () => {
        process.stdout.write(b);
        process.exit(res.statusCode === 200 ? 0 : 1);
      });
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => { console.error(e.message); process.exit(1); });
    if (body) req.setHeader("Content-Type", "application/json");
    req.end(body || undefined);' "$1" "$2" "$EMU_CONTROL_PORT" "${3:-}"
}

fixture_get() {
  node -e '
    const u = require(process.argv[1]).users
      .find((x) => x.username === process.argv[2]);
    process.stdout.write(process.argv[3] === "pat"
      ? u.tokens.find((t) => t.token.startsWith("d2p_")).token
      : u[process.argv[3]]);' "$emu_fixture" "$1" "$2"
}

totp_now() {
  node -e '
    const { totp } = require(process.argv[1]);
    process.stdout.write(totp(process.argv[2], Date.now()));' \
    "$emu_top/tests/dhis2-emulator/lib/totp.js" "$1"
}
