# The browser's part of an OAuth2 code flow against the DHIS2 emulator,
# with curl and a cookie jar (sourced, bash).
#
#   oauth2_browse JAR CA URL USER PASSWORD [approve|deny]
#       opens the authorization URL, signs in on the emulator's login page,
#       answers its consent page and prints the address the server
#       redirects the browser to at the end (the client's redirect_uri with
#       code and state, or error=). JAR is a cookie file (emptied first),
#       CA the emulator's CA certificate.

oauth2_browse() {
  local jar=$1 ca=$2 L
  rm -f "$jar"
  L=$(curl -s --cacert "$ca" -c "$jar" -b "$jar" -o /dev/null \
    -w '%{redirect_url}' "$3") || return 1
  L=$(curl -s --cacert "$ca" -c "$jar" -b "$jar" -o /dev/null \
    -w '%{redirect_url}' -d "username=$4" --data-urlencode "password=$5" \
    "$L/login") || return 1
  L=$(curl -s --cacert "$ca" -c "$jar" -b "$jar" -o /dev/null \
    -w '%{redirect_url}' "$L") || return 1
  L=$(curl -s --cacert "$ca" -c "$jar" -b "$jar" -o /dev/null \
    -w '%{redirect_url}' -d "decision=${6:-approve}" "$L/consent") || return 1
  curl -s --cacert "$ca" -c "$jar" -b "$jar" -o /dev/null \
    -w '%{redirect_url}' "$L"
}
