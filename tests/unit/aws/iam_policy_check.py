#!/usr/bin/env python3
"""Checks an IAM policy against the AWS operations the code calls, in both directions.

Every AWS operation named in the C++ sources (an AwsRequest's `operation`, the operation of an
S3Client::request(), DynamoDb::call()/query_all(), the store's conditional()) is mapped to the IAM
action it needs; the policy must grant exactly those actions: nothing used that is not granted,
nothing granted that is unused. An operation this script does not know fails the check, so a new
call cannot slip past it: add it to OPERATIONS (and the policy) in the same change.

    iam_policy_check.py --source src --policy docs/aws.md
    iam_policy_check.py --source src --policy deploy/template.yaml   # a SAM template, later

The policy source may be Markdown (the ```json blocks are read), JSON or YAML: every
"service:Action" string in it counts as granted. Exit 0 when both directions hold, 1 otherwise.
"""

import argparse
import pathlib
import re
import sys

# Operation -> the IAM action it needs.
OPERATIONS = {
    # S3
    "ListObjectsV2": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "PutObject": "s3:PutObject",
    "HeadObject": "s3:GetObject",
    "GetObject": "s3:GetObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObject": "s3:DeleteObject",
    "CreateBucket": "s3:CreateBucket",
    # DynamoDB
    "GetItem": "dynamodb:GetItem",
    "PutItem": "dynamodb:PutItem",
    "UpdateItem": "dynamodb:UpdateItem",
    "DeleteItem": "dynamodb:DeleteItem",
    "Query": "dynamodb:Query",
    "Scan": "dynamodb:Scan",
    "BatchWriteItem": "dynamodb:BatchWriteItem",
    "BatchGetItem": "dynamodb:BatchGetItem",
    # A transaction needs the action of each of its items: the ConditionCheck on the lease, the
    # cursor's Update, a checkpoint's Puts and Deletes (state/dynamodb_store.cpp).
    "TransactWriteItems": ("dynamodb:ConditionCheckItem", "dynamodb:UpdateItem",
                           "dynamodb:PutItem", "dynamodb:DeleteItem"),
    "CreateTable": "dynamodb:CreateTable",
    "DescribeTable": "dynamodb:DescribeTable",
    "UpdateTimeToLive": "dynamodb:UpdateTimeToLive",
    "DescribeTimeToLive": "dynamodb:DescribeTimeToLive",
    # Secrets Manager
    "GetSecretValue": "secretsmanager:GetSecretValue",
}

# Operations the product calls that no deployed policy grants, and why.
NOT_GRANTED = {
    "CreateBucket": "S3Client::create_bucket is for tests and benchmarks only",
}

# Where operation names appear in the sources.
PATTERNS = [
    # S3Client::request(bucket, key, "METHOD", "Operation")
    re.compile(r'\brequest\([^;()]*"(?:GET|PUT|POST|DELETE|HEAD)"\s*,\s*"([A-Za-z0-9]+)"\s*\)'),
    # request.operation = "Operation"; AwsRequest{..., .operation = "Operation"}
    re.compile(r'\.?\boperation\s*=\s*"([A-Za-z0-9.]+)"'),
    # db.call("Operation", ...), query_all("Operation", ...), conditional("Operation", ...)
    re.compile(r'\b(?:call|query_all|conditional)\(\s*"([A-Za-z0-9]+)"'),
]
# const std::string name = "Operation"; ... call(name, ...)
STRING_VARIABLE = re.compile(r'\bstd::string\s+(\w+)\s*=\s*"([A-Za-z0-9]+)"\s*;')
PASSED_TO = r'\b(?:call|query_all|conditional)\(\s*{}\b'

# "s3:PutObject", not the "dynamodb:REGION" inside an ARN.
ACTION = re.compile(r'(?<![\w:])(s3|dynamodb|secretsmanager|kms|sts):([A-Za-z*]+)\b')


def operations_in(source_dir):
    """{operation: [file:line, ...]} for every operation the sources call."""
    found = {}
    for path in sorted(pathlib.Path(source_dir).rglob("*")):
        if path.suffix not in (".cpp", ".hpp", ".h", ".cc"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")

        def add(name, offset):
            place = f"{path}:{text.count(chr(10), 0, offset) + 1}"
            if place not in found.setdefault(name, []):
                found[name].append(place)

        for pattern in PATTERNS:
            for match in pattern.finditer(text):
                add(match.group(1), match.start(1))
        for match in STRING_VARIABLE.finditer(text):
            if re.search(PASSED_TO.format(re.escape(match.group(1))), text):
                add(match.group(2), match.start(2))
    return found


def granted_in(policy_file):
    text = pathlib.Path(policy_file).read_text(encoding="utf-8")
    if policy_file.endswith(".md"):
        blocks = re.findall(r"```json\n(.*?)```", text, flags=re.S)
        if not blocks:
            sys.exit(f"{policy_file}: no ```json policy block found")
        text = "\n".join(blocks)
    return {f"{service}:{action}" for service, action in ACTION.findall(text)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="folder of C++ sources (src)")
    parser.add_argument("--policy", required=True, help="policy: .md, .json or a SAM template")
    args = parser.parse_args()

    used = operations_in(args.source)
    if not used:
        sys.exit(f"no AWS operation found under {args.source}: the patterns are out of date")
    problems = []
    needed = {}
    for operation, places in sorted(used.items()):
        if operation not in OPERATIONS:
            problems.append(
                f"unknown AWS operation '{operation}' (at {', '.join(places)}): add it with its "
                f"IAM action to OPERATIONS in {pathlib.Path(__file__).name}, and to the policy"
            )
            continue
        if operation in NOT_GRANTED:
            continue
        actions = OPERATIONS[operation]
        for action in (actions,) if isinstance(actions, str) else actions:
            needed.setdefault(action, []).append(operation)

    granted = granted_in(args.policy)
    for action, operations in sorted(needed.items()):
        if action not in granted:
            problems.append(
                f"{args.policy} does not grant {action}, needed by {', '.join(operations)}"
            )
    for action in sorted(granted - needed.keys()):
        problems.append(f"{args.policy} grants {action}, which no code calls")

    for problem in problems:
        print(f"FAIL: {problem}")
    if problems:
        return 1
    print(f"OK: {len(needed)} IAM actions, each needed by the code and granted by {args.policy}:")
    for action, operations in sorted(needed.items()):
        print(f"  {action:40} {', '.join(sorted(set(operations)))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
