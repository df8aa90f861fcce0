#!/usr/bin/env python3
"""Checks an IAM policy against the AWS operations the code calls, in both directions.

Every AWS operation named in the C++ sources (an AwsRequest's `operation`, the operation of an
S3Client::request() or version_request(), DynamoDb::call()/query_all(), the store's
conditional()) is mapped to the IAM action it needs; the policy must grant exactly those actions: nothing used that is not granted,
nothing granted that is unused. An operation this script does not know fails the check, so a new
call cannot slip past it: add it to OPERATIONS (and the policy) in the same change.

    iam_policy_check.py --source src --policy docs/aws.md
    iam_policy_check.py --source src --policy template.yaml

The policy source may be Markdown (the ```json blocks are read) or JSON: every "service:Action"
string in it counts as granted. Or a CloudFormation/SAM template (.yaml/.yml/.json with
"Resources"; the intrinsic tags !Sub, !Ref, !If, !GetAtt... are read): then only the Allow
statements of the Lambda function's execution role count (inline Policies of the role, and
AWS::IAM::Policy/RolePolicy resources attached to it; both branches of an !If), not the bucket
policy's Deny or anything else in the template. For a template:
- the operations only `obsync state-init` calls (CLI_ONLY) are not needed: the template creates
  the table, and the function never calls them;
- actions that Lambda's own machinery performs with the role, not the code (PLATFORM_ACTIONS:
  the function's logs, the on-failure destination, VPC network interfaces, SSE-KMS) are allowed
  extras, each with its reason; those marked conditional must be granted under an !If only;
- the actions Lambda's SQS event source mapping performs with the role (ESM_ACTIONS:
  ReceiveMessage, DeleteMessage, GetQueueAttributes) are allowed only on queues that are the
  source of an event source mapping of the function (SAM `Events: {Type: SQS}` or an
  AWS::Lambda::EventSourceMapping), and such a queue must have all three;
- a wildcard action, a managed policy or SAM policy template (which cannot be read here), or an
  action the code needs granted on Resource "*", fails; the one exception is
  secretsmanager:ListSecrets, which AWS authorizes on "*" only (ANY_RESOURCE_ONLY): it must be
  granted on "*", and only under a condition (CONDITIONAL_NEEDS: the code calls it only when
  ALLOWED_SECRET_PREFIX is set).
Actions granted before the code that calls them is merged (GRANTED_AHEAD_OF_CODE) may be granted
without being used, in either kind of policy; once the sources call the operation, the entry is
stale and the check fails until it is deleted.
Exit 0 when both directions hold, 1 otherwise.
"""

import argparse
import pathlib
import re
import sys

# Operation -> the IAM action it needs.
OPERATIONS = {
    # S3
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "GetBucketVersioning": "s3:GetBucketVersioning",
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
    "ListSecrets": "secretsmanager:ListSecrets",
    # SQS (AWS authorizes SendMessageBatch with sqs:SendMessage: no action of its own)
    "SendMessage": "sqs:SendMessage",
    "SendMessageBatch": "sqs:SendMessage",
    "ChangeMessageVisibility": "sqs:ChangeMessageVisibility",
}

# Operations the product calls that no deployed policy grants, and why.
NOT_GRANTED = {
    "CreateBucket": "S3Client::create_bucket is for tests and benchmarks only",
    "ListObjectVersions": "restore --at reads a bucket's history from the CLI, with the user's "
                          "credentials; the function never restores",
    "GetBucketVersioning": "restore --at checks that the bucket keeps versions, from the CLI",
}

# Operations whose action the policies grant before the code that calls them is merged (the
# deployment and the code of one change land from separate branches). While no source calls the
# operation, its action may be granted unused; once one does, the entry is stale and the check
# fails, naming it: delete it then.
GRANTED_AHEAD_OF_CODE: dict[str, str] = {}

# Actions AWS authorizes on Resource "*" only (no resource-level permissions): the one exception
# to "no needed action on '*'". Granted on anything else, they would never match a request.
ANY_RESOURCE_ONLY = {
    "secretsmanager:ListSecrets": "AWS does not scope ListSecrets to resources; the code lists "
                                  "with a name-prefix filter (ALLOWED_SECRET_PREFIX)",
}

# Actions the code needs only with an optional setting: in a template they must be granted
# under a condition only (the setting's parameter), never unconditionally.
CONDITIONAL_NEEDS = {
    "secretsmanager:ListSecrets": "called only when ALLOWED_SECRET_PREFIX is set "
                                  "(template parameter AllowedSecretPrefix)",
}

# Actions Lambda's SQS event source mapping performs with the function's role (those of the
# managed policy AWSLambdaSQSQueueExecutionRole): not the code's. Allowed only on a queue that is
# the source of an event source mapping of the function, and required there.
ESM_ACTIONS = {
    "sqs:ReceiveMessage": "Lambda's event source mapping polls the queue for the function",
    "sqs:DeleteMessage": "Lambda's event source mapping deletes the messages the function handled",
    "sqs:GetQueueAttributes": "Lambda's event source mapping reads the queue's attributes",
}

# Operations only `obsync state-init` calls (app/commands.cpp -> Storage::init_state_table() ->
# state::create_dynamodb_state_table): the function's role needs none of them, the template
# creates the table. Checked: no source under src/lambda/ names init_state_table or
# create_dynamodb_state_table.
CLI_ONLY = {
    "CreateTable": "obsync state-init creates the table; the template does it for the function",
    "DescribeTable": "obsync state-init checks an existing table's key schema",
    "UpdateTimeToLive": "obsync state-init turns TTL on; the template sets TimeToLiveSpecification",
    "DescribeTimeToLive": "obsync state-init reads the table's TTL setting",
}
CLI_ONLY_ENTRY_POINTS = ("init_state_table", "create_dynamodb_state_table")

# Actions a function's role may grant that no code calls: Lambda itself uses the role for them.
# action -> (reason, granted only under a template condition)
PLATFORM_ACTIONS = {
    "logs:CreateLogStream": ("Lambda writes the function's stdout to its log group", False),
    "logs:PutLogEvents": ("Lambda writes the function's stdout to its log group", False),
    "sqs:SendMessage": ("Lambda sends an asynchronous invocation that failed after its retries "
                        "to the on-failure destination (EventInvokeConfig)", False),
    "ec2:CreateNetworkInterface": ("Lambda places the function in the VPC", True),
    "ec2:DescribeNetworkInterfaces": ("Lambda places the function in the VPC", True),
    "ec2:DescribeSubnets": ("Lambda places the function in the VPC", True),
    "ec2:DeleteNetworkInterface": ("Lambda places the function in the VPC", True),
    "ec2:AssignPrivateIpAddresses": ("Lambda places the function in the VPC", True),
    "ec2:UnassignPrivateIpAddresses": ("Lambda places the function in the VPC", True),
    "kms:GenerateDataKey": ("S3 asks KMS for a data key on PutObject/UploadPart with SSE-KMS "
                            "and a customer managed key", True),
    "kms:Decrypt": ("S3 decrypts the data key on GetObject, and reads the parts back to "
                    "complete a multipart upload, with SSE-KMS and a customer managed key", True),
}

# Where operation names appear in the sources.
PATTERNS = [
    # S3Client::request(bucket, key, "METHOD", "Operation") and
    # S3Client::version_request(bucket, key, version_id, "METHOD", "Operation")
    re.compile(r'\b(?:version_)?request\([^;()]*"(?:GET|PUT|POST|DELETE|HEAD)"\s*,\s*'
               r'"([A-Za-z0-9]+)"\s*\)'),
    # request.operation = "Operation"; AwsRequest{..., .operation = "Operation"}
    re.compile(r'\.?\boperation\s*=\s*"([A-Za-z0-9.]+)"'),
    # db.call("Operation", ...), query_all("Operation", ...), conditional("Operation", ...)
    re.compile(r'\b(?:call|query_all|conditional)\(\s*"([A-Za-z0-9]+)"'),
]
# const std::string name = "Operation"; ... call(name, ...)
STRING_VARIABLE = re.compile(r'\bstd::string\s+(\w+)\s*=\s*"([A-Za-z0-9]+)"\s*;')
PASSED_TO = r'\b(?:call|query_all|conditional)\(\s*{}\b'

# "s3:PutObject", not the "dynamodb:REGION" inside an ARN.
ACTION = re.compile(r'(?<![\w:])(s3|dynamodb|secretsmanager|sqs|kms|sts):([A-Za-z*]+)\b')
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


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


def load_template(path):
    """A CloudFormation/SAM template as plain data: !Ref X -> {"Ref": X}, !GetAtt A.B ->
    {"Fn::GetAtt": [A, B]}, !Condition X -> {"Condition": X}, any other !Tag -> {"Fn::Tag": ...}."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def construct(loader, tag_suffix, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if tag_suffix == "Ref":
            return {"Ref": value}
        if tag_suffix == "Condition":
            return {"Condition": value}
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{tag_suffix}": value}

    Loader.add_multi_constructor("!", construct)
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=Loader)  # noqa: S506 (a SafeLoader subclass)


def _referenced_resource(value):
    """The logical id a Role property names (!GetAtt X.Arn, !Ref X), else None."""
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
        if "Ref" in value:
            return value["Ref"]
    return None


def _statements(node, conditional=False):
    """(statement, under an !If) for a Statement list or a policy's list, through !If."""
    if isinstance(node, dict) and "Fn::If" in node:
        _, yes, no = node["Fn::If"]
        yield from _statements(yes, True)
        yield from _statements(no, True)
    elif isinstance(node, list):
        for item in node:
            yield from _statements(item, conditional)
    elif isinstance(node, dict) and node != {"Ref": "AWS::NoValue"}:
        yield node, conditional


def _documents(node, conditional=False):
    """(PolicyDocument, under an !If) of a role's Policies list, through !If."""
    for policy, cond in _statements(node, conditional):
        if "PolicyDocument" in policy:
            yield policy["PolicyDocument"], cond


def role_grants(template, problems):
    """{action: [(resource, conditional)]} of the Allow statements of the functions' roles."""
    resources = template.get("Resources") or {}
    functions = {name: r for name, r in resources.items() if r.get("Type") in FUNCTION_TYPES}
    if not functions:
        problems.append("the template has no Lambda function")
    documents = []
    for name, function in functions.items():
        props = function.get("Properties") or {}
        role = _referenced_resource(props.get("Role"))
        if props.get("Policies"):
            problems.append(f"{name} has SAM Policies: write the role out (AWS::IAM::Role) so "
                            "that every action can be read here")
        if role is None or resources.get(role, {}).get("Type") != "AWS::IAM::Role":
            problems.append(f"{name}'s Role is not an AWS::IAM::Role of this template")
            continue
        role_props = resources[role].get("Properties") or {}
        if role_props.get("ManagedPolicyArns"):
            problems.append(f"{role} has ManagedPolicyArns: their actions cannot be checked here; "
                            "write them out")
        documents.extend(_documents(role_props.get("Policies") or []))
        for other_name, other in resources.items():
            if other.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::RolePolicy"):
                other_props = other.get("Properties") or {}
                roles = other_props.get("Roles") or [other_props.get("RoleName")]
                if any(_referenced_resource(r) == role for r in roles):
                    documents.append((other_props.get("PolicyDocument") or {},
                                      "Condition" in other))
    grants = {}
    for document, doc_conditional in documents:
        for statement, conditional in _statements(document.get("Statement") or []):
            if statement.get("Effect") != "Allow":
                continue
            actions = statement.get("Action") or []
            for action in [actions] if isinstance(actions, str) else actions:
                if "*" in action:
                    problems.append(f"wildcard action {action} in the function's role")
                    continue
                grants.setdefault(action, []).append(
                    (statement.get("Resource"), conditional or doc_conditional))
    return grants


def _queue_arn_of(value):
    """The logical id of the queue a !GetAtt Q.Arn names, else None."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        if isinstance(target, list) and len(target) == 2 and target[1] == "Arn":
            return target[0]
    return None


def event_source_queues(template):
    """Logical ids of the SQS queues that are the source of an event source mapping of the
    template's function: SAM `Events: {X: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}}` or an
    AWS::Lambda::EventSourceMapping whose FunctionName is the function (!Ref or !GetAtt .Arn)."""
    resources = template.get("Resources") or {}
    functions = {name for name, r in resources.items() if r.get("Type") in FUNCTION_TYPES}
    queues = set()
    for name in functions:
        events = (resources[name].get("Properties") or {}).get("Events") or {}
        for event in events.values():
            if isinstance(event, dict) and event.get("Type") == "SQS":
                queues.add(_queue_arn_of((event.get("Properties") or {}).get("Queue")))
    for resource in resources.values():
        if resource.get("Type") == "AWS::Lambda::EventSourceMapping":
            props = resource.get("Properties") or {}
            if _referenced_resource(props.get("FunctionName")) in functions:
                queues.add(_queue_arn_of(props.get("EventSourceArn")))
    return {q for q in queues
            if q is not None and (resources.get(q) or {}).get("Type") == "AWS::SQS::Queue"}


def _show(value):
    """A resource as the template spells it: !GetAtt Q.Arn, !Ref X, a string."""
    if isinstance(value, dict) and "Fn::GetAtt" in value and isinstance(value["Fn::GetAtt"], list):
        return "!GetAtt " + ".".join(str(v) for v in value["Fn::GetAtt"])
    if isinstance(value, dict) and "Ref" in value:
        return f"!Ref {value['Ref']}"
    if isinstance(value, str):
        return f"'{value}'"
    return repr(value)


def _resource_list(resource):
    if isinstance(resource, dict) and "Fn::If" in resource:
        _, yes, no = resource["Fn::If"]
        return _resource_list(yes) + _resource_list(no)
    if isinstance(resource, list):
        return [r for item in resource for r in _resource_list(item)]
    return [] if resource == {"Ref": "AWS::NoValue"} else [resource]


def check_event_source_grants(args, template, grants, needed, problems):
    """ESM_ACTIONS only on queues the function's event source mappings read, and all of them on
    each such queue."""
    sources = event_source_queues(template)
    for action in sorted(ESM_ACTIONS):
        if action in needed:
            continue  # the code calls it itself: the rules of a needed action apply
        covered = set()
        for resource, _ in grants.get(action, []):
            for item in _resource_list(resource):
                queue = _queue_arn_of(item)
                if queue in sources:
                    covered.add(queue)
                else:
                    problems.append(f"{args.policy}: {action} ({ESM_ACTIONS[action]}) is granted "
                                    f"on {_show(item)}, which is not the ARN of a queue an event "
                                    "source mapping of the function reads")
        for queue in sorted(sources - covered):
            problems.append(f"{args.policy}: the event source mapping from {queue} needs {action} "
                            f"on it ({ESM_ACTIONS[action]})")


def lambda_calls_cli_only(source_dir):
    """Places under SOURCE/lambda that reach the state-init code (they must not)."""
    places = []
    for path in sorted((pathlib.Path(source_dir) / "lambda").rglob("*")):
        if path.suffix in (".cpp", ".hpp") and any(
                name in path.read_text(encoding="utf-8", errors="replace")
                for name in CLI_ONLY_ENTRY_POINTS):
            places.append(str(path))
    return places


def check_template(args, needed, problems, ahead):
    template = load_template(args.policy)
    grants = role_grants(template, problems)
    for place in lambda_calls_cli_only(args.source):
        problems.append(f"{place} reaches obsync state-init's table creation: CLI_ONLY is no "
                        "longer true for the function")
    # An action only CLI_ONLY operations need is not the function's.
    for action in [a for a, users in needed.items() if set(users) <= set(CLI_ONLY)]:
        del needed[action]
    for action, operations in sorted(needed.items()):
        if action not in grants:
            problems.append(f"{args.policy}: the function's role does not grant {action}, "
                            f"needed by {', '.join(sorted(set(operations)))}")
            continue
        resources = [item for resource, _ in grants[action] for item in _resource_list(resource)]
        if action in ANY_RESOURCE_ONLY:
            if any(resource != "*" for resource in resources):
                problems.append(f"{args.policy}: {action} must be granted on Resource '*' "
                                f"({ANY_RESOURCE_ONLY[action]}): on anything else it never "
                                "matches")
        elif "*" in resources:
            problems.append(f"{args.policy}: {action} is granted on Resource '*'")
        if action in CONDITIONAL_NEEDS:
            if not all(conditional for _, conditional in grants[action]):
                problems.append(f"{args.policy}: {action} ({CONDITIONAL_NEEDS[action]}) must be "
                                "granted only under its condition (an !If)")
        elif all(conditional for _, conditional in grants[action]):
            problems.append(f"{args.policy}: {action} is granted only under a condition")
    check_event_source_grants(args, template, grants, needed, problems)
    extras = []
    for action in sorted(set(grants) - needed.keys()):
        if action in ESM_ACTIONS:
            extras.append((action, ESM_ACTIONS[action]))  # where: checked above
            continue
        if action in ahead:
            if any("*" in _resource_list(resource) for resource, _ in grants[action]):
                problems.append(f"{args.policy}: {action} is granted on Resource '*'")
            extras.append((action, f"granted ahead of the code: {ahead[action]}"))
            continue
        if action not in PLATFORM_ACTIONS:
            problems.append(f"{args.policy}: the function's role grants {action}, which no code "
                            "calls and Lambda does not need")
            continue
        reason, must_be_conditional = PLATFORM_ACTIONS[action]
        if must_be_conditional and not all(c for _, c in grants[action]):
            problems.append(f"{args.policy}: {action} ({reason}) must be granted only under "
                            "its condition (an !If)")
        extras.append((action, reason))
    return extras


def is_template(policy_file):
    if not policy_file.endswith((".yaml", ".yml", ".json", ".template")):
        return False
    text = pathlib.Path(policy_file).read_text(encoding="utf-8")
    return re.search(r'^\s*"?Resources"?\s*:', text, flags=re.M) is not None


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
    ahead = {}  # action -> why, for GRANTED_AHEAD_OF_CODE operations no source calls yet
    for operation, why in sorted(GRANTED_AHEAD_OF_CODE.items()):
        if operation in used:
            problems.append(
                f"{operation} is called now (at {', '.join(used[operation])}): delete its entry "
                f"from GRANTED_AHEAD_OF_CODE in {pathlib.Path(__file__).name}"
            )
            continue
        actions = OPERATIONS[operation]
        for action in (actions,) if isinstance(actions, str) else actions:
            ahead[action] = f"{operation} ({why})"
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

    extras = []
    if is_template(args.policy):
        extras = check_template(args, needed, problems, ahead)
    else:
        granted = granted_in(args.policy)
        for action, operations in sorted(needed.items()):
            if action not in granted:
                problems.append(
                    f"{args.policy} does not grant {action}, needed by {', '.join(operations)}"
                )
        for action in sorted(granted - needed.keys()):
            if action in ahead:
                extras.append((action, f"granted ahead of the code: {ahead[action]}"))
                continue
            problems.append(f"{args.policy} grants {action}, which no code calls")

    for problem in problems:
        print(f"FAIL: {problem}")
    if problems:
        return 1
    print(f"OK: {len(needed)} IAM actions, each needed by the code and granted by {args.policy}:")
    for action, operations in sorted(needed.items()):
        print(f"  {action:40} {', '.join(sorted(set(operations)))}")
    if extras:
        print("and, not for the code under the source folder (Lambda's own use, or ahead of it):")
        for action, reason in extras:
            print(f"  {action:40} {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
