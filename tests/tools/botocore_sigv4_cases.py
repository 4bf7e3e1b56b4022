#!/usr/bin/env python3
"""Signs a few hundred generated Kinesis (JSON 1.1) and STS (Query API form) requests with
botocore's SigV4Auth at fixed times and writes them, with botocore's Authorization header, to the
JSON file named by argv[1]. src/aws/sigv4_botocore_test.cc signs the same requests with shoal's
signer and compares. Exit status 3 means botocore cannot be imported (the test then skips)."""
import datetime
import json
import random
import sys
import urllib.parse

try:
    import botocore
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as error:
    print(f"botocore is not importable: {error}", file=sys.stderr)
    sys.exit(3)

KINESIS_OPERATIONS = ["PutRecord", "PutRecords", "GetRecords", "GetShardIterator", "ListShards",
                      "ListStreams", "DescribeStreamSummary", "CreateStream", "DeleteStream"]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1"]
WORDS = ["plain", "ünïcödé", "日本語", "emoji-😀", "space here", "a+b=c&d", "slash/and?q",
         "quote\"s", "tab\tand\nnewline", "", "~tilde-._", "%41-not-escape", "Ωmega"]


class FixedClock(datetime.datetime):
    """Stands in for datetime.datetime inside botocore.auth so signing happens at a fixed time."""
    fixed = None

    @classmethod
    def utcnow(cls):
        return cls.fixed

    @classmethod
    def now(cls, tz=None):
        return cls.fixed if tz is None else cls.fixed.replace(tzinfo=tz)


class FakeDatetimeModule:
    timezone = datetime.timezone
    timedelta = datetime.timedelta
    datetime = FixedClock


botocore.auth.datetime = FakeDatetimeModule


def random_credentials(rng):
    access = "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    secret = "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/")
                     for _ in range(40))
    token = ""
    if rng.random() < 0.4:
        token = "FwoGZXIvYXdzE" + "".join(
            rng.choice("abcdefghijklmnopqrstuvwxyz0123456789+/=") for _ in range(rng.randint(50, 400)))
    return access, secret, token


def random_host(rng, service, region):
    choice = rng.random()
    if choice < 0.4:
        return f"https://{service}.{region}.amazonaws.com"
    if choice < 0.55:
        return f"https://{service}.{region}.amazonaws.com:443"
    if choice < 0.7:
        return f"http://127.0.0.1:{rng.randint(1024, 65535)}"
    if choice < 0.8:
        return f"http://localhost:80"
    if choice < 0.9:
        return f"https://{service.upper()}.{region}.AmazonAWS.com:8443"
    return f"https://123456789012.data-{service}.{region}.amazonaws.com"


def kinesis_request(rng):
    region = rng.choice(REGIONS)
    op = rng.choice(KINESIS_OPERATIONS)
    body_kind = rng.random()
    if body_kind < 0.1:
        body = ""
    elif body_kind < 0.2:
        body = "{}"
    else:
        payload = {"StreamName": "stream-" + str(rng.randint(0, 999))}
        if op in ("PutRecord", "PutRecords"):
            records = [{"Data": "ZGF0YQ==", "PartitionKey": rng.choice(WORDS) or "k"}
                       for _ in range(rng.randint(1, 5))]
            payload = {**payload, "Records": records} if op == "PutRecords" else {**payload, **records[0]}
        if rng.random() < 0.5:
            payload["Note"] = rng.choice(WORDS)
        body = json.dumps(payload, ensure_ascii=rng.random() < 0.3)
    headers = [("Content-Type", "application/x-amz-json-1.1"),
               ("X-Amz-Target", f"Kinesis_20131202.{op}")]
    if rng.random() < 0.3:
        headers.append(("User-Agent", "shoal/0.1 botocore-crosscheck"))
    if rng.random() < 0.2:
        headers.append(("X-Custom-Spaces", "  a   b  c "))
    return "kinesis", region, "POST", random_host(rng, "kinesis", region) + "/", headers, body


def sts_request(rng):
    region = rng.choice(REGIONS + ["us-east-1"])
    params = [("Action", "AssumeRole"), ("Version", "2011-06-15"),
              ("RoleArn", f"arn:aws:iam::{rng.randint(10**11, 10**12 - 1)}:role/shoal-{rng.choice(WORDS)}"),
              ("RoleSessionName", "shoal-" + str(rng.randint(0, 10**6)))]
    if rng.random() < 0.7:
        params.append(("ExternalId", rng.choice(WORDS) + "-" + str(rng.randint(0, 99))))
    if rng.random() < 0.5:
        params.append(("DurationSeconds", str(rng.choice([900, 3600, 43200]))))
    body = urllib.parse.urlencode(params, quote_via=urllib.parse.quote) if rng.random() > 0.05 else ""
    headers = [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")]
    return "sts", region, "POST", random_host(rng, "sts", region) + "/", headers, body


def get_with_query(rng):
    region = rng.choice(REGIONS)
    segments = [urllib.parse.quote(rng.choice(WORDS) or "x", safe="") for _ in range(rng.randint(0, 3))]
    path = "/" + "/".join(segments)
    if rng.random() < 0.3:
        path += "/"
    params = [(rng.choice(WORDS) or "k", rng.choice(WORDS)) for _ in range(rng.randint(0, 4))]
    query = "&".join(urllib.parse.quote(k, safe="-_.~") + "=" + urllib.parse.quote(v, safe="-_.~")
                     for k, v in params)
    url = random_host(rng, "kinesis", region) + path + ("?" + query if query else "")
    return "kinesis", region, "GET", url, [], ""


def main():
    rng = random.Random(20150830)
    cases = []
    generators = [kinesis_request] * 5 + [sts_request] * 3 + [get_with_query] * 2
    for index in range(400):
        service, region, method, url, headers, body = rng.choice(generators)(rng)
        access, secret, token = random_credentials(rng)
        seconds = rng.randint(1_400_000_000, 1_900_000_000)
        FixedClock.fixed = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=seconds)
        request = AWSRequest(method=method, url=url, data=body.encode("utf-8"))
        for name, value in headers:
            request.headers[name] = value
        botocore.auth.SigV4Auth(Credentials(access, secret, token or None), service,
                                region).add_auth(request)
        cases.append({
            "name": f"{index:03d}-{service}-{method}",
            "service": service, "region": region, "method": method, "url": url,
            "headers": [[n, v] for n, v in headers], "body": body,
            "access_key_id": access, "secret_access_key": secret, "session_token": token,
            "timestamp_ms": seconds * 1000,
            "authorization": request.headers["Authorization"],
            "x_amz_date": request.headers["X-Amz-Date"],
        })
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        json.dump({"botocore_version": botocore.__version__, "cases": cases}, out,
                  ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
