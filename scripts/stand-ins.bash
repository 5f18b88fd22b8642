# Sourced by scripts/demo and container/build-and-smoke-test: the local stand-ins the service runs
# against, moto_server as ECR (signature checking on, an IAM user allowed ecr:GetAuthorizationToken)
# and tests/support/rancher_stand_in.py as the Rancher 1.x API (or tests/support/rancher2_stand_in.py
# as the Rancher 2.x API: the *_rancher2_* functions), and helpers to seed and read Rancher.
# The caller is at the checkout's root, has a temporary directory in $workdir and an array `pids`
# to which the stand-ins' process ids are added, for it to end at exit.

wait_for() {  # wait_for FILE PATTERN: until FILE holds PATTERN; status 1 after 60 s
  for _ in $(seq 600); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1" >&2
  return 1
}

http() {  # http METHOD URL [BODY]: prints the answer's body; status 1 when it is not a 2xx
  python3 - "$@" <<'PY'
import sys, urllib.request, urllib.error
method, url = sys.argv[1], sys.argv[2]
data = sys.argv[3].encode() if len(sys.argv) > 3 else None
try:
    print(urllib.request.urlopen(urllib.request.Request(url, data=data, method=method), timeout=10).read().decode(), end="")
except urllib.error.HTTPError as error:
    print(error.read().decode(), end="")
    sys.exit(1)
PY
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

# Starts both stand-ins. Exports what the service reads: AWS_REGION, the IAM user's
# AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL_ECR (moto, plain http), and the
# Rancher API key pair CATTLE_ACCESS_KEY, CATTLE_SECRET_KEY; sets `rancher` to the stand-in's URL
# (the service's CATTLE_URL is "$rancher/v2-beta"). Status 1 when one does not come up.
start_stand_ins() {
  python3 tests/support/aws_stand_in.py --print-env --serve-forever >"$workdir/aws.env" &
  pids+=($!)
  python3 tests/support/rancher_stand_in.py --serve-forever >"$workdir/rancher.json" &
  pids+=($!)
  wait_for "$workdir/aws.env" AWS_ENDPOINT_URL_ECR || return 1
  wait_for "$workdir/rancher.json" url || return 1
  # shellcheck disable=SC1091
  source "$workdir/aws.env"  # export lines
  rancher=$(json_field "$workdir/rancher.json" url)
  CATTLE_ACCESS_KEY=$(json_field "$workdir/rancher.json" access_key)
  CATTLE_SECRET_KEY=$(json_field "$workdir/rancher.json" secret_key)
  export CATTLE_ACCESS_KEY CATTLE_SECRET_KEY
}

expired_password=an-expired-password

# Seeds the Rancher stand-in through its /_control API with the registry of account 123456789012's
# ECR host and a credential holding $expired_password; sets `host`, `registry` and `credential`.
seed_expired_credential() {
  host=123456789012.dkr.ecr.$AWS_REGION.amazonaws.com
  registry=$(http POST "$rancher/_control/registries" "{\"serverAddress\":\"$host\"}" |
             json_field /dev/stdin id) || return 1
  credential=$(http POST "$rancher/_control/credentials" \
    "{\"registryId\":\"$registry\",\"publicValue\":\"AWS\",\"secretValue\":\"$expired_password\"}" |
    json_field /dev/stdin id) || return 1
}

stored_password() {  # the password credential $credential holds in the Rancher stand-in now
  http GET "$rancher/_control/state" | python3 -c "
import json, sys
print(next(c['secretValue'] for c in json.load(sys.stdin)['credentials'] if c['id'] == sys.argv[1]))" "$credential"
}

# Rancher 2.x: starts moto_server and tests/support/rancher2_stand_in.py (the norman v3 API; its
# project local:p-default is named Default, in the cluster local). Exports what start_stand_ins
# exports, CATTLE_ACCESS_KEY and CATTLE_SECRET_KEY being a Rancher 2 API key (token-xxxxx and its
# secret); sets `rancher` to the stand-in's URL (the service's CATTLE_URL is "$rancher/v3").
# Status 1 when one does not come up.
start_rancher2_stand_ins() {
  python3 tests/support/aws_stand_in.py --print-env --serve-forever >"$workdir/aws.env" &
  pids+=($!)
  python3 tests/support/rancher2_stand_in.py --serve-forever >"$workdir/rancher2.json" &
  pids+=($!)
  wait_for "$workdir/aws.env" AWS_ENDPOINT_URL_ECR || return 1
  wait_for "$workdir/rancher2.json" url || return 1
  # shellcheck disable=SC1091
  source "$workdir/aws.env"  # export lines
  rancher=$(json_field "$workdir/rancher2.json" url)
  CATTLE_ACCESS_KEY=$(json_field "$workdir/rancher2.json" access_key)
  CATTLE_SECRET_KEY=$(json_field "$workdir/rancher2.json" secret_key)
  export CATTLE_ACCESS_KEY CATTLE_SECRET_KEY
}

# Seeds the Rancher 2.x stand-in through its /_control API with a project-wide docker credential of
# project local:p-default (Default) holding account 123456789012's ECR host with $expired_password;
# sets `host`, `project`, `credential` (its id) and `credential_name`.
seed_expired_rancher2_credential() {
  host=123456789012.dkr.ecr.$AWS_REGION.amazonaws.com
  project=local:p-default
  credential_name=ecr-registry
  credential=$(http POST "$rancher/_control/credentials" \
    "{\"project\":\"$project\",\"name\":\"$credential_name\",\"description\":\"ECR pulls\",\"registries\":{\"$host\":{\"username\":\"AWS\",\"password\":\"$expired_password\"}}}" |
    json_field /dev/stdin id) || return 1
}

stored_rancher2_password() {  # the password credential $credential holds for $host in the Rancher 2.x stand-in now
  http GET "$rancher/_control/state" | python3 -c "
import json, sys
row = next(c for c in json.load(sys.stdin)['credentials'] if c['id'] == sys.argv[1])
print(row['registries'].get(sys.argv[2], {}).get('password', ''))" "$credential" "$host"
}

# A test CA ($workdir/ca.pem) and a certificate for localhost signed by it ($workdir/tls.pem,
# $workdir/tls.key), for TLS proxies in front of the stand-ins.
make_test_ca() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=stand-in-test-ca -keyout "$workdir/ca.key" \
    -out "$workdir/ca.pem" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
    2>/dev/null || return 1
  openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout "$workdir/tls.key" -out "$workdir/tls.csr" \
    2>/dev/null || return 1
  printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$workdir/tls.ext"
  openssl x509 -req -in "$workdir/tls.csr" -CA "$workdir/ca.pem" -CAkey "$workdir/ca.key" -CAcreateserial \
    -days 1 -extfile "$workdir/tls.ext" -out "$workdir/tls.pem" 2>/dev/null || return 1
  chmod 0644 "$workdir/ca.pem"
}

# start_tls_proxy NAME URL: TLS (make_test_ca's certificate) on a free loopback port in front of the
# plain-HTTP URL; sets `proxy_url` to https://localhost:PORT. Its log, one line per connection:
# $workdir/NAME.log.
start_tls_proxy() {
  local upstream=${2#http://}
  python3 tests/support/tls_proxy.py "$workdir/tls.pem" "$workdir/tls.key" "${upstream%%/*}" \
    >"$workdir/$1.port" 2>"$workdir/$1.log" &
  pids+=($!)
  wait_for "$workdir/$1.port" '[0-9]' || { cat "$workdir/$1.log" >&2; return 1; }
  proxy_url=https://localhost:$(cat "$workdir/$1.port")
}
