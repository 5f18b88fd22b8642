#!/usr/bin/env python3
"""AWS stand-in for the integration tests and the README demo.

Runs moto (ECR, IAM, STS) in-process on 127.0.0.1 with request signature checking on, creates:
  - "user":    an IAM user with an access key, allowed ecr:GetAuthorizationToken and sts:AssumeRole;
  - "session": temporary credentials of a role (allowed ecr:GetAuthorizationToken) assumed by that user;
  - "denied":  an IAM user with an access key and no permission at all;
checks that moto accepts the first two and refuses a bad secret and the third, then prints ONE line
of JSON on stdout:

  {"endpoint":"http://127.0.0.1:PORT","region":"us-east-1","account_id":"123456789012",
   "user":{"access_key_id":..,"secret_access_key":..},
   "session":{"access_key_id":..,"secret_access_key":..,"session_token":..},
   "denied":{"access_key_id":..,"secret_access_key":..}}

(with --print-env: shell `export` lines for the user's credentials instead; "role_arn" names the role
of the session) and serves until its stdin reaches end of file (so it dies with the test that started it), SIGTERM or SIGINT; with
--serve-forever, until SIGTERM or SIGINT only. Nothing else goes to stdout; stderr stays quiet unless
something fails (then a message and exit status 1) or --verbose is given.

How moto 5.2.1 answers GetAuthorizationToken on this endpoint (checked at every start, see self_check):
  - user or session credentials: HTTP 200, application/x-amz-json-1.1,
    {"authorizationData": [{"authorizationToken": "<base64 of AWS:123456789012-auth-token>",
     "expiresAt": 1420070400, "proxyEndpoint": "https://123456789012.dkr.ecr.us-east-1.amazonaws.com"}]}
    (expiresAt is 2015-01-01, in the past; with registryIds, one entry per id);
  - wrong secret: HTTP 403, Content-Type text/html, body
    <?xml version="1.0" encoding="utf-8"?>, a newline, <ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code>
    <Message>The request signature we calculated does not match the signature you provided. Check your AWS
    Secret Access Key and signing method. Consult the service documentation for details.</Message>
    <Type>Sender</Type></Error></Errors></ErrorResponse>   (one line, no spaces between the tags);
  - unknown access key, or session keys without (or with a wrong) session token: HTTP 403, same form,
    <Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message>;
  - the denied user: HTTP 403, same form, <Code>AccessDenied</Code><Message>User:
    arn:aws:iam::123456789012:user/ecr-denied is not authorized to perform: ecr:GetAuthorizationToken</Message>.
Real ECR answers such errors as HTTP 400 JSON; the service must report both forms clearly.

Options for the credential-provider tests (the defaults above are unchanged without them):
  --public-web-identity: STS AssumeRoleWithWebIdentity is taken unsigned, as real STS takes it (the web
    identity token is the proof). moto 5.2.1 with signature checking on reads the Authorization header
    of every request and fails this one with HTTP 500; with the option, an unsigned
    AssumeRoleWithWebIdentity skips moto's signature check (it still needs an existing role), and the
    credentials it returns are checked like any others on the calls signed with them.
  --no-auth: moto without signature checking (every request passes, moto's instance metadata hands
    out its fixed "test-key" credentials); no identities are created and the JSON line holds only
    endpoint, region and account_id.
"""

import argparse
import json
import os
import shlex
import signal
import sys

from stand_in_server import install_stop_handlers, wait_for_stop

ACCOUNT_ID = "123456789012"  # moto's default account

# moto lets this many requests through unchecked, then checks the signature and the IAM policies
# of every later one. It must equal the number of setup calls made in create_identities() below
# exactly: one more and the first test request would pass unchecked.
SETUP_REQUESTS = 7

# Bounds startup as a whole (import, server start, setup, self-check), so a test never hangs on it.
STARTUP_TIMEOUT_SECONDS = 60


def fail(message):
    print(f"aws_stand_in: error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0,
                        help="TCP port on 127.0.0.1 (default: a free one chosen by the system)")
    parser.add_argument("--region", default="us-east-1", help="AWS region of the clients (default: us-east-1)")
    parser.add_argument("--print-env", action="store_true",
                        help="print shell export lines for the user's credentials instead of JSON")
    parser.add_argument("--serve-forever", action="store_true",
                        help="ignore stdin; serve until SIGTERM or SIGINT (for a demo in the background)")
    parser.add_argument("--verbose", action="store_true", help="log moto's requests and warnings to stderr")
    parser.add_argument("--public-web-identity", action="store_true",
                        help="take STS AssumeRoleWithWebIdentity unsigned, as real STS does")
    parser.add_argument("--no-auth", action="store_true",
                        help="no signature checking and no identities: the JSON line has the endpoint only")
    args = parser.parse_args()
    if args.no_auth and args.print_env:
        parser.error("--print-env needs the identities that --no-auth does not create")
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} is not a TCP port")
    return args


def prepare_environment(check_signatures=True):
    """Must run before moto is imported: moto reads its settings from os.environ at import time."""
    if check_signatures:
        os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = str(SETUP_REQUESTS)
    else:
        os.environ.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
    os.environ.pop("MOTO_ACCOUNT_ID", None)
    # The setup clients talk to 127.0.0.1 directly, whatever proxy the calling environment names.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        os.environ.pop(name, None)
    # Keep botocore away from the caller's AWS settings: every client here gets explicit
    # credentials, region and endpoint, and must not read ~/.aws or call instance metadata.
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def allow_unsigned_web_identity():
    """An unsigned AssumeRoleWithWebIdentity skips moto's signature check (see --public-web-identity)."""
    from moto.core.authorization import ActionAuthenticatorMixin

    check = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authenticate_and_authorize(self, iam_request_cls, resource="*"):
        if "Authorization" not in self.headers and self._get_action() == "AssumeRoleWithWebIdentity":
            return None
        return check(self, iam_request_cls, resource)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate_and_authorize


def start_server(port):
    from moto.server import ThreadedMotoServer

    class BoundedMotoServer(ThreadedMotoServer):
        # ThreadedMotoServer.start() waits forever when the server thread fails to bind: record
        # the error and wake start() instead.
        startup_error = None

        def _server_entry(self):
            try:
                super()._server_entry()
            except BaseException as error:  # noqa: BLE001 - reported by the main thread
                self.startup_error = error
                self._server_ready_event.set()

    server = BoundedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    error = server.startup_error
    if error is not None:
        # werkzeug prints why it cannot bind (e.g. the port is in use) and exits its thread.
        reason = "it cannot bind the address (see above)" if isinstance(error, SystemExit) else error
        fail(f"cannot serve on 127.0.0.1:{port}: {reason}")
    return server


def make_client_factory(endpoint, region):
    import boto3
    from botocore.config import Config

    # One attempt per call: a retry would be an extra request and spoil SETUP_REQUESTS.
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=20)
    session = boto3.session.Session()

    def client(service, access_key_id="setup", secret_access_key="setup", session_token=None):
        return session.client(service, endpoint_url=endpoint, region_name=region, config=config,
                              aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
                              aws_session_token=session_token)

    return client


def policy(*actions, principal=None):
    statement = {"Effect": "Allow", "Action": list(actions)}
    if principal is None:
        statement["Resource"] = "*"
    else:
        statement["Principal"] = principal
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def create_identities(client):
    """Exactly SETUP_REQUESTS unchecked IAM calls, then one signed STS call."""
    iam = client("iam")
    iam.create_user(UserName="ecr-user")
    user_key = iam.create_access_key(UserName="ecr-user")["AccessKey"]
    iam.put_user_policy(UserName="ecr-user", PolicyName="ecr-token",
                        PolicyDocument=policy("ecr:GetAuthorizationToken", "sts:AssumeRole"))
    role_arn = iam.create_role(
        RoleName="ecr-role",
        AssumeRolePolicyDocument=policy("sts:AssumeRole",
                                        principal={"AWS": f"arn:aws:iam::{ACCOUNT_ID}:user/ecr-user"}))["Role"]["Arn"]
    iam.put_role_policy(RoleName="ecr-role", PolicyName="ecr-token", PolicyDocument=policy("ecr:GetAuthorizationToken"))
    iam.create_user(UserName="ecr-denied")
    denied_key = iam.create_access_key(UserName="ecr-denied")["AccessKey"]

    # From here on every request is checked: this one is signed by the user, as a real caller would.
    sts = client("sts", user_key["AccessKeyId"], user_key["SecretAccessKey"])
    session = sts.assume_role(RoleArn=role_arn, RoleSessionName="aws-stand-in")["Credentials"]

    return {
        "role_arn": role_arn,
        "user": {"access_key_id": user_key["AccessKeyId"], "secret_access_key": user_key["SecretAccessKey"]},
        "session": {"access_key_id": session["AccessKeyId"], "secret_access_key": session["SecretAccessKey"],
                    "session_token": session["SessionToken"]},
        "denied": {"access_key_id": denied_key["AccessKeyId"], "secret_access_key": denied_key["SecretAccessKey"]},
    }


def signed_ecr_call(endpoint, region, credentials):
    """GetAuthorizationToken exactly as the service sends it; returns (HTTP status, body)."""
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="POST", url=endpoint + "/", data=b"{}", headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"})
    SigV4Auth(Credentials(credentials["access_key_id"], credentials["secret_access_key"],
                          credentials.get("session_token")), "ecr", region).add_auth(request)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(endpoint + "/", data=b"{}", method="POST",
                                                headers=dict(request.headers.items())), timeout=20) as answer:
            return answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def self_check(endpoint, region, identities):
    """Fails unless moto now checks signatures and permissions as the tests expect."""
    from moto.core.authorization import ActionAuthenticatorMixin

    if ActionAuthenticatorMixin.request_count != SETUP_REQUESTS:
        fail(f"moto let {ActionAuthenticatorMixin.request_count} requests through unchecked, "
             f"expected {SETUP_REQUESTS}")

    for name in ("user", "session"):
        status, body = signed_ecr_call(endpoint, region, identities[name])
        if status != 200 or "authorizationToken" not in body:
            fail(f"moto refused GetAuthorizationToken with the {name} credentials: HTTP {status} {body[:300]}")

    user = identities["user"]
    wrong_secret = dict(user, secret_access_key="wrong" + user["secret_access_key"][5:])
    for name, credentials, code in (("a wrong secret", wrong_secret, "SignatureDoesNotMatch"),
                                    ("the denied user", identities["denied"], "AccessDenied")):
        status, body = signed_ecr_call(endpoint, region, credentials)
        if status == 200:
            fail(f"moto accepted GetAuthorizationToken with {name}: signature checking is off")
        if status != 403 or f"<Code>{code}</Code>" not in body:
            fail(f"moto refused GetAuthorizationToken with {name} by HTTP {status} {body[:300]}, "
                 f"expected 403 {code}")


def main():
    args = parse_arguments()
    prepare_environment(check_signatures=not args.no_auth)

    # Until the one line is printed, anything a library prints goes to stderr, not into our output.
    output = sys.stdout
    sys.stdout = sys.stderr

    if not args.verbose:
        import logging
        import warnings

        warnings.simplefilter("ignore")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)

    def startup_timed_out(signal_number, _frame):
        fail(f"startup took more than {STARTUP_TIMEOUT_SECONDS} s")

    signal.signal(signal.SIGALRM, startup_timed_out)
    signal.alarm(STARTUP_TIMEOUT_SECONDS)

    try:
        if args.public_web_identity:
            allow_unsigned_web_identity()
        server = start_server(args.port)
    except ImportError as error:
        fail(f"moto is not installed for {sys.executable} ({error}); it needs moto[server] 5.x and boto3")
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"

    try:
        if args.no_auth:
            identities = {}
        else:
            client = make_client_factory(endpoint, args.region)
            identities = create_identities(client)
            self_check(endpoint, args.region, identities)
    except SystemExit:
        server.stop()
        raise
    except Exception as error:  # noqa: BLE001 - any setup failure ends the stand-in with a message
        server.stop()
        fail(f"setting up moto at {endpoint} failed: {type(error).__name__}: {error}")
    signal.alarm(0)

    stop = install_stop_handlers()
    if args.print_env:
        user = identities["user"]
        lines = [
            "unset AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_PROFILE AWS_ENDPOINT_URL",
            f"export AWS_ACCESS_KEY_ID={shlex.quote(user['access_key_id'])}",
            f"export AWS_SECRET_ACCESS_KEY={shlex.quote(user['secret_access_key'])}",
            f"export AWS_REGION={shlex.quote(args.region)}",
            f"export AWS_ENDPOINT_URL_ECR={shlex.quote(endpoint)}",
        ]
        output.write("\n".join(lines) + "\n")
    else:
        output.write(json.dumps({"endpoint": endpoint, "region": args.region, "account_id": ACCOUNT_ID,
                                 **identities}, separators=(",", ":")) + "\n")
    output.flush()

    try:
        wait_for_stop(stop, args.serve_forever)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
