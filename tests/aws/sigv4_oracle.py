#!/usr/bin/env python3
"""Random requests signed by botocore's SigV4 signer: the oracle of sigv4_oracle_test.cpp.

Usage: sigv4_oracle.py --seed SEED --count N

Prints one JSON line per case: the request before signing (method, target, headers as a list of
[name, value] in sending order, body as hex), the credentials, region, service and signing time
(epoch seconds), then what botocore made of it: its canonical request, string to sign, the
headers after signing and the Authorization header. The same seed gives the same cases.

Requests are generated as a careful client sends them: the query is already URI-encoded the way
SigV4 wants (botocore signs a URL's query as it is, without re-encoding it), paths carry raw
characters and escapes alike (both are encoded once more), and there is no Date header (botocore
would sign Date instead of X-Amz-Date).
"""

import argparse
import datetime
import hashlib
import json
import random
import sys
from unittest import mock
from urllib.parse import quote

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS']
HOSTS = ['api.ecr.us-east-1.amazonaws.com', 'example.amazonaws.com', 'sts.eu-west-3.amazonaws.com',
         '127.0.0.1', 'localhost', '[::1]']
PORTS = [None, None, 5123, 8443, 4566]
REGIONS = ['us-east-1', 'eu-west-3', 'cn-north-1', 'us-gov-west-1', 'ap-southeast-2']
SERVICES = ['ecr', 'sts', 'service', 'execute-api', 'iam']

UNRESERVED = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~'
SUB_DELIMS = "!$&'()*+,;=:@"
# Non-ASCII letters that no Python str.split() takes for whitespace.
UTF8 = ['é', 'ß', '€', 'ሴ', '中', '😀']
# Characters for query keys and values before encoding: anything, reserved ones included.
QUERY_CHARS = UNRESERVED + SUB_DELIMS + ' /?#[]%"<>\\^`{|}' + ''.join(UTF8)
# Header values: printable ASCII and some UTF-8; spaces and tabs are added separately.
VALUE_CHARS = ''.join(chr(c) for c in range(0x21, 0x7F)) + ''.join(UTF8)

SIGNED_NAMES = ['X-Amz-Target', 'Content-Type', 'Content-Length', 'Accept', 'Cache-Control', 'My-Header1',
                'x-custom', 'X-CUSTOM', 'X-Amz-Meta-Note', 'x-amz-user-agent']
# The names botocore never signs (SIGNED_HEADERS_BLACKLIST), in assorted cases.
UNSIGNED_NAMES = ['User-Agent', 'Expect', 'X-Amzn-Trace-Id', 'Connection', 'Keep-Alive', 'TE', 'Trailer',
                  'Transfer-Encoding', 'Upgrade', 'Proxy-Authorization', 'proxy-authenticate']
# Left by an earlier signature: both signers must replace them.
STALE_NAMES = ['Authorization', 'X-Amz-Date', 'x-amz-security-token']


def mixed_case(rng, name):
    choice = rng.randrange(4)
    if choice == 0:
        return name.lower()
    if choice == 1:
        return name.upper()
    if choice == 2:
        return ''.join(c.upper() if rng.random() < 0.5 else c.lower() for c in name)
    return name


def random_text(rng, alphabet, low, high):
    return ''.join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def path_segment(rng):
    kind = rng.randrange(8)
    if kind == 0:
        return rng.choice(['.', '..', ''])
    if kind == 1:
        return random_text(rng, SUB_DELIMS + UNRESERVED, 1, 6)
    if kind == 2:
        return random_text(rng, UNRESERVED + ' ', 1, 8)
    if kind == 3:
        return random_text(rng, UNRESERVED + ''.join(UTF8), 1, 6)
    if kind == 4:  # escapes as a client sends them, upper- or lowercase
        escape = ''.join(f'%{b:02X}' for b in rng.choice(['/', ' ', '?', 'é', '%', '#']).encode())
        return random_text(rng, UNRESERVED, 0, 3) + (escape.lower() if rng.random() < 0.3 else escape)
    return random_text(rng, UNRESERVED, 1, 10)


def random_path(rng):
    path = '/' + '/'.join(path_segment(rng) for _ in range(rng.randint(0, 4)))
    if rng.random() < 0.3:
        path += '/'
    return path


def encode(text):
    return quote(text, safe='-_.~')


def random_query(rng):
    keys = ['Action', 'Version', 'a', 'A', 'b', 'list', '']
    keys += [random_text(rng, QUERY_CHARS, 1, 6) for _ in range(3)]
    parameters = []
    for _ in range(rng.randint(1, 6)):
        key = encode(rng.choice(keys))
        shape = rng.randrange(5)
        if shape == 0 and key:
            parameters.append(key)  # no '='
        elif shape == 1:
            parameters.append(key + '=')
        else:
            parameters.append(key + '=' + encode(random_text(rng, QUERY_CHARS, 0, 12)))
    return '&'.join(parameters)


def random_value(rng):
    """Words separated by runs of spaces and tabs, with or without some at both ends."""

    def spaces(low):
        return random_text(rng, ' \t', low, 4)

    words = [random_text(rng, VALUE_CHARS, 1, 8) for _ in range(rng.randint(0, 4))]
    return spaces(0) + ''.join(word + spaces(1) for word in words[:-1]) + (words[-1] if words else '') + spaces(0)


def random_headers(rng, host_header, body):
    headers = []
    for _ in range(rng.randint(0, 6)):
        headers.append([mixed_case(rng, rng.choice(SIGNED_NAMES)), random_value(rng)])
    if rng.random() < 0.5:
        for _ in range(rng.randint(1, 3)):
            headers.append([mixed_case(rng, rng.choice(UNSIGNED_NAMES)), random_value(rng)])
    if rng.random() < 0.2:
        headers.append([rng.choice(STALE_NAMES), random_value(rng)])
    if rng.random() < 0.15:
        payload_hash = rng.choice(['UNSIGNED-PAYLOAD', hashlib.sha256(body).hexdigest()])
        headers.append([mixed_case(rng, 'X-Amz-Content-SHA256'), payload_hash])
    headers.insert(rng.randint(0, len(headers)), [mixed_case(rng, 'Host'), host_header])
    return headers


def random_body(rng):
    kind = rng.randrange(4)
    if kind == 0:
        return b''
    if kind == 1:
        return b'{}'
    if kind == 2:
        return json.dumps({'registryIds': [str(rng.randrange(10**12)).zfill(12)]}).encode()
    return bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))


class recording_sigv4_auth(SigV4Auth):
    """SigV4Auth that keeps the canonical request and string to sign it computed."""

    def canonical_request(self, request):
        self.last_canonical_request = super().canonical_request(request)
        return self.last_canonical_request

    def string_to_sign(self, request, canonical_request):
        self.last_string_to_sign = super().string_to_sign(request, canonical_request)
        return self.last_string_to_sign


def make_case(rng, index):
    method = rng.choice(METHODS)
    host = rng.choice(HOSTS)
    port = rng.choice(PORTS)
    netloc = host if port is None else f'{host}:{port}'
    target = random_path(rng)
    if rng.random() < 0.6:
        target += '?' + random_query(rng)
    elif rng.random() < 0.1:
        target += '?'
    body = random_body(rng)
    headers = random_headers(rng, netloc, body)
    access_key = 'AKIA' + random_text(rng, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16, 16)
    secret_key = random_text(rng, UNRESERVED[:62] + '+/', 40, 40)
    token = random_text(rng, UNRESERVED[:62] + '+/=', 100, 400) if rng.random() < 0.5 else None
    region = rng.choice(REGIONS)
    service = rng.choice(SERVICES)
    # Seconds from 1970 to 2100: dates before and after 2000, month and day edges included.
    epoch = rng.randrange(0, 4102444800)

    request = AWSRequest(method=method, url=f'https://{netloc}{target}', data=body)
    for name, value in headers:  # HTTPHeaders appends: repeated names stay repeated
        request.headers[name] = value
    signer = recording_sigv4_auth(Credentials(access_key, secret_key, token), service, region)
    now = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).replace(tzinfo=None)
    with mock.patch.object(botocore.auth, 'get_current_datetime', return_value=now):
        signer.add_auth(request)

    return {
        'id': index,
        'method': method,
        'target': target,
        'headers': headers,
        'body_hex': body.hex(),
        'access_key_id': access_key,
        'secret_access_key': secret_key,
        'session_token': token or '',
        'region': region,
        'service': service,
        'time': epoch,
        'canonical_request': signer.last_canonical_request,
        'string_to_sign': signer.last_string_to_sign,
        'signed_headers': [[name, value] for name, value in request.headers.items()],
        'authorization': request.headers['Authorization'],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seed', type=int, required=True)
    parser.add_argument('--count', type=int, required=True)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    for index in range(args.count):
        print(json.dumps(make_case(rng, index)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
