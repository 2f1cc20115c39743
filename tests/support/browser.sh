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

# The browser's part of a device sign-in (RFC 8628) on the identity
# provider's own pages (oidc-provider's), with curl and a cookie jar.
#
#   device_browse JAR CA VERIFICATION_URI_COMPLETE USER PASSWORD [approve|deny]
#       opens the complete verification URI, as a phone that scanned the
#       QR code does, and submits the form that page posts by itself (its
#       xsrf token and the code); on the confirm page presses Continue
#       (approve) or Abort (deny). Continue leads to the provider's login
#       page: signs in as USER, answers a consent page if one comes, and
#       follows the redirects to the end. Prints the last page's marker
#       (its data-status or data-error: "success", "aborted"); fails when a
#       page is not the one expected. JAR is a cookie file (emptied first),
#       CA the provider's CA certificate.

# The value of the hidden input NAME in the HTML on stdin.
hidden_input() {
  sed -n "s/.*<input type=\"hidden\" name=\"$1\" value=\"\([^\"]*\)\".*/\1/p" |
    head -n 1
}

# The action of the form with the id ID (none: the first form) in the HTML
# on stdin.
form_action() {
  sed -n "s/.*<form ${1:+id=\"$1\" }[^>]*action=\"\([^\"]*\)\".*/\1/p" |
    head -n 1
}

device_browse() {
  local jar=$1 ca=$2 uri=$3 decision=${6:-approve} origin page action
  local xsrf code L
  local get=(curl -s --cacert "$ca" -c "$jar" -b "$jar")
  origin=$(sed -E 's|^(https?://[^/]+).*|\1|' <<<"$uri")
  rm -f "$jar"
  page=$("${get[@]}" "$uri") || return 1
  action=$(form_action <<<"$page")
  xsrf=$(hidden_input xsrf <<<"$page")
  code=$(hidden_input user_code <<<"$page")
  [ -n "$action" ] && [ -n "$xsrf" ] && [ -n "$code" ] || return 1
  page=$("${get[@]}" --data-urlencode "xsrf=$xsrf" \
    --data-urlencode "user_code=$code" "$action") || return 1
  action=$(form_action op.deviceConfirmForm <<<"$page")
  xsrf=$(hidden_input xsrf <<<"$page")
  code=$(hidden_input user_code <<<"$page")
  [ -n "$action" ] && [ -n "$xsrf" ] && [ -n "$code" ] || return 1
  if [ "$decision" != approve ]; then
    page=$("${get[@]}" --data-urlencode "xsrf=$xsrf" \
      --data-urlencode "user_code=$code" -d abort=yes "$action") || return 1
  else
    L=$("${get[@]}" -o /dev/null -w '%{redirect_url}' \
      --data-urlencode "xsrf=$xsrf" --data-urlencode "user_code=$code" \
      -d confirm=yes "$action") || return 1
    [ -n "$L" ] || return 1
    page=$("${get[@]}" "$L") || return 1
    action=$(form_action login <<<"$page")
    [ -n "$action" ] || return 1
    page=$("${get[@]}" -L --data-urlencode "username=$4" \
      --data-urlencode "password=$5" "$origin$action") || return 1
    action=$(form_action consent <<<"$page")
    if [ -n "$action" ]; then
      page=$("${get[@]}" -L -d "decision=approve" "$origin$action") ||
        return 1
    fi
  fi
  sed -n 's/.*data-\(status\|error\)="\([^"]*\)".*/\2/p' <<<"$page" |
    head -n 1 | grep .
}
