"""template.yaml (the AWS SAM template) offline and on loopback:

- LintTest: cfn-lint passes (no blanket ignores).
- TransformTest: samtranslator expands it without network; the expansion has what the issue asks
  for (API key on POST /sync, usage plan from the parameters, the schedule and its input, the
  event invoke config, the table, the bucket, the secret, the alarms, the conditions), and the
  scale-out of issue #13 (the work queue, its dead-letter queue and event source mapping, their
  parameters, grants and alarms, the environment naming them).
- MotoDeployTest: the expansion deploys to moto's CloudFormation (minus sam.MOTO_UNSUPPORTED),
  every remaining resource reaches CREATE_COMPLETE (the work queue, its dead-letter queue and
  the event source mapping included), and build/obsync-lambda, run by our Runtime API emulator
  with the environment of the deployed function and the schedule's own input, backs a
  fake-server vault up into the stack's bucket and table: inline, or, when the function
  dispatches to the work queue (OBSYNC_QUEUE_URL, issue #13), through the queue's messages
  handed to it as Lambda's event source mapping would.

The IAM check of the template is a unit test (iam_policy_template_matches_code).
Nothing contacts anything but 127.0.0.1.
"""

from __future__ import annotations

import ast
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "lambda"))

import esm_driver  # noqa: E402
import loopback  # noqa: E402
import sam  # noqa: E402
from runtime_emulator import RuntimeEmulator  # noqa: E402

EMAIL = "deploy@example.com"
ACCOUNT_PASSWORD = "deploy-account-SECRET-pw"  # no ':' (the fake server's --user syntax)
TOTP_SECRET = "OBSYNCDEPLOYTOTPJBSWY3DPEHPK3PXP"
VAULT = "Work"
VAULT_PASSWORD = "deploy vault SECRET pass"
SECRET_PARAMETERS = ("ObsidianEmail", "ObsidianPassword", "ObsidianTotpSecret", "VaultPassword")
STACK = "obsync-deploy-test"


def resources_of_type(template: dict, kind: str) -> dict[str, dict]:
    return {n: r for n, r in template["Resources"].items() if r["Type"] == kind}


def one(template: dict, kind: str) -> dict:
    found = resources_of_type(template, kind)
    if len(found) != 1:
        raise AssertionError(f"{len(found)} resources of type {kind}, wanted one")
    return next(iter(found.values()))


def role_statements(template: dict) -> list[dict]:
    """The Allow/Deny statements of the function role's inline policies (conditions resolved)."""
    role = template["Resources"]["SyncFunctionRole"]["Properties"]
    return [statement for policy in role["Policies"]
            for statement in policy["PolicyDocument"]["Statement"]]


def actions_of(statement: dict) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def resources_of(statement: dict) -> list:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


class LintTest(unittest.TestCase):
    def test_cfn_lint_is_clean(self):
        cfn_lint = shutil.which("cfn-lint")
        self.assertIsNotNone(cfn_lint, "cfn-lint is not installed (pip install cfn-lint)")
        result = subprocess.run([cfn_lint, str(sam.TEMPLATE)], capture_output=True, text=True,
                                timeout=120, cwd=sam.ROOT)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_no_blanket_ignores(self):
        text = sam.TEMPLATE.read_text()
        self.assertNotIn("ignore_templates", text)
        template = sam.load_template()
        self.assertNotIn("cfn-lint", json.dumps(template.get("Metadata", {})),
                         "a template-wide cfn-lint ignore")


class TransformTest(unittest.TestCase):
    PARAMETERS = {"ApiThrottleRateLimit": "3", "ApiThrottleBurstLimit": "7",
                  "ApiQuotaLimit": "250", "ApiQuotaPeriod": "WEEK", "RetryAttempts": "1",
                  "MaximumEventAgeSeconds": "1800"}

    @classmethod
    def setUpClass(cls):
        cls.source = sam.load_template()
        cls.t = sam.expand(cls.PARAMETERS, cls.source)
        cls.resources = cls.t["Resources"]

    def test_function(self):
        fn = one(self.t, "AWS::Lambda::Function")["Properties"]
        self.assertEqual((fn["Runtime"], fn["Handler"], fn["Timeout"]),
                         ("provided.al2023", "bootstrap", 900))
        self.assertEqual(fn["Architectures"], [{"Ref": "Architecture"}])
        self.assertEqual(fn["MemorySize"], {"Ref": "MemorySize"})
        self.assertEqual(fn["ReservedConcurrentExecutions"]["Fn::If"][1],
                         {"Ref": "ReservedConcurrency"})
        self.assertEqual(fn["Code"], {"S3Bucket": sam.CODE_BUCKET, "S3Key": sam.CODE_KEY})
        self.assertEqual(fn["LoggingConfig"]["LogGroup"], {"Ref": "SyncFunctionLogGroup"})
        variables = fn["Environment"]["Variables"]
        self.assertEqual(set(variables), {"S3_BUCKET", "S3_PREFIX", "STATE_TABLE_NAME",
                                          "OBSYNC_SECRET_ID", "OBSYNC_SSE",
                                          "OBSYNC_SSE_KMS_KEY_ID", "OBSYNC_LOG_LEVEL",
                                          "OBSYNC_VAULT_METRICS", "OBSYNC_QUEUE_URL",
                                          "OBSYNC_DEAD_LETTER_QUEUE_URL",
                                          "OBSYNC_ACCOUNT_CONCURRENCY", "ALLOWED_SECRET_PREFIX",
                                          "OBSYNC_ENCRYPTED"})
        self.assertEqual(variables["OBSYNC_VAULT_METRICS"], {"Ref": "VaultMetrics"})
        # Encrypted at rest (issue #15): recommended, but off by default, so that updating a
        # stack does not switch its vault folders to a layout they refuse.
        self.assertEqual(variables["OBSYNC_ENCRYPTED"], {"Ref": "EncryptedAtRest"})
        self.assertEqual(self.source["Parameters"]["EncryptedAtRest"]["Default"], "false")
        self.assertEqual(self.source["Parameters"]["EncryptedAtRest"]["AllowedValues"],
                         ["true", "false"])
        # The scale-out (issue #13): a queue's Ref is its URL, what the function sends to.
        self.assertEqual(variables["OBSYNC_QUEUE_URL"], {"Ref": "WorkQueue"})
        self.assertEqual(variables["OBSYNC_DEAD_LETTER_QUEUE_URL"], {"Ref": "DeadLetterQueue"})
        self.assertEqual(variables["OBSYNC_ACCOUNT_CONCURRENCY"], {"Ref": "AccountConcurrency"})
        self.assertEqual(variables["ALLOWED_SECRET_PREFIX"], {"Ref": "AllowedSecretPrefix"})
        self.assertEqual(self.source["Parameters"]["VaultMetrics"]["Default"], "false")
        # No credential in the environment: neither a variable the function reads credentials
        # from, nor any reference to a NoEcho parameter.
        text = json.dumps(fn["Environment"])
        for name in SECRET_PARAMETERS + ("OBSIDIAN_PASSWORD", "OBSIDIAN_EMAIL",
                                         "OBSIDIAN_VAULT_PASSWORD", "OBSIDIAN_TOTP_SECRET"):
            self.assertNotIn(name, text)
        self.assertEqual(set(fn["VpcConfig"]["Fn::If"][1]), {"SubnetIds", "SecurityGroupIds"})

    def test_log_group_has_retention(self):
        group = self.resources["SyncFunctionLogGroup"]["Properties"]
        self.assertEqual(group["RetentionInDays"], {"Ref": "LogRetentionDays"})
        self.assertEqual(self.source["Parameters"]["LogRetentionDays"]["Default"], 30)

    def test_event_invoke_config_with_sqs_on_failure(self):
        config = one(self.t, "AWS::Lambda::EventInvokeConfig")["Properties"]
        # The parameters' values (SAM resolves these; a parameter value is a string).
        self.assertEqual(str(config["MaximumRetryAttempts"]), "1")
        self.assertEqual(str(config["MaximumEventAgeInSeconds"]), "1800")
        destination = config["DestinationConfig"]["OnFailure"]["Destination"]
        self.assertEqual(destination, {"Fn::GetAtt": ["FailureQueue", "Arn"]})
        self.assertEqual(self.resources["FailureQueue"]["Type"], "AWS::SQS::Queue")

    def test_api_key_required_on_post_sync_and_usage_plan_from_parameters(self):
        api = one(self.t, "AWS::ApiGateway::RestApi")["Properties"]["Body"]
        post = api["paths"]["/sync"]["post"]
        self.assertEqual(set(api["paths"]), {"/sync"})
        self.assertEqual(set(api["paths"]["/sync"]), {"post"})
        self.assertIn({"api_key": []}, post["security"])
        scheme = api["components"]["securitySchemes"]["api_key"]
        self.assertEqual((scheme["type"], scheme["in"], scheme["name"]),
                         ("apiKey", "header", "x-api-key"))
        # One stage, v1, the usage plan's: no deployment to SAM's default stage "Stage".
        [stage] = resources_of_type(self.t, "AWS::ApiGateway::Stage").values()
        self.assertEqual(stage["Properties"]["StageName"], "v1")
        [deployment] = resources_of_type(self.t, "AWS::ApiGateway::Deployment").values()
        self.assertNotIn("StageName", deployment["Properties"])
        plan = one(self.t, "AWS::ApiGateway::UsagePlan")["Properties"]
        as_text = lambda d: {k: str(v) for k, v in d.items()}  # noqa: E731
        self.assertEqual(as_text(plan["Throttle"]), {"RateLimit": "3", "BurstLimit": "7"})
        self.assertEqual(as_text(plan["Quota"]), {"Limit": "250", "Period": "WEEK"})
        self.assertEqual(len(resources_of_type(self.t, "AWS::ApiGateway::ApiKey")), 1)
        self.assertEqual(len(resources_of_type(self.t, "AWS::ApiGateway::UsagePlanKey")), 1)
        waf = one(self.t, "AWS::WAFv2::WebACLAssociation")
        self.assertEqual(waf["Condition"], "HasWebAcl")
        self.assertIn("/restapis/", waf["Properties"]["ResourceArn"]["Fn::Sub"])

    def test_schedule(self):
        rules = resources_of_type(self.t, "AWS::Events::Rule")
        self.assertEqual(set(rules), {"SyncFunctionSchedule", "SyncFunctionVerifySchedule"})
        rule = rules["SyncFunctionSchedule"]["Properties"]
        self.assertEqual(rule["ScheduleExpression"], {"Ref": "ScheduleExpression"})
        self.assertEqual(self.source["Parameters"]["ScheduleExpression"]["Default"],
                         "rate(6 hours)")
        [target] = rule["Targets"]
        self.assertEqual(json.loads(target["Input"]), {"sync_type": "incremental"})

    def test_verify_schedule(self):
        rule = resources_of_type(self.t, "AWS::Events::Rule")["SyncFunctionVerifySchedule"]
        properties = rule["Properties"]
        self.assertEqual(properties["ScheduleExpression"], {"Ref": "VerifyScheduleExpression"})
        self.assertEqual(properties["State"], {"Ref": "VerifyScheduleState"})
        parameters = self.source["Parameters"]
        self.assertEqual(parameters["VerifyScheduleExpression"]["Default"], "rate(1 day)")
        self.assertEqual(parameters["VerifyDeepPercent"]["Default"], 1)
        [target] = properties["Targets"]
        # The input as the function reads it ({"action":"verify","deep_percent":N}), with the
        # parameter's default put in; with EncryptedAtRest=true no deep share (it would need the
        # vault password, which a keyhash-only secret does not have).
        condition, encrypted, plain = target["Input"]["Fn::If"]
        self.assertEqual(condition, "EncryptedBackups")
        self.assertEqual(self.t["Conditions"]["EncryptedBackups"],
                         {"Fn::Equals": [{"Ref": "EncryptedAtRest"}, "true"]})
        self.assertEqual(json.loads(encrypted), {"action": "verify"})
        template = plain["Fn::Sub"]
        self.assertEqual(json.loads(template.replace("${VerifyDeepPercent}", "1")),
                         {"action": "verify", "deep_percent": 1})
        for value, expected in (("true", {"action": "verify"}),
                                ("false", {"action": "verify", "deep_percent": 1})):
            resolved = sam.resolve_conditions(self.t, {"EncryptedAtRest": value})
            rule = resources_of_type(resolved, "AWS::Events::Rule")["SyncFunctionVerifySchedule"]
            [target] = rule["Properties"]["Targets"]
            text = target["Input"]
            if isinstance(text, dict):
                text = text["Fn::Sub"].replace("${VerifyDeepPercent}", "1")
            self.assertEqual(json.loads(text), expected, value)

    def test_state_table(self):
        table = one(self.t, "AWS::DynamoDB::Table")["Properties"]
        self.assertEqual(table["BillingMode"], "PAY_PER_REQUEST")
        # The key schema of src/state/dynamodb_table.cpp.
        self.assertEqual(table["KeySchema"], [{"AttributeName": "vault_id", "KeyType": "HASH"},
                                              {"AttributeName": "item", "KeyType": "RANGE"}])
        self.assertEqual(table["TimeToLiveSpecification"], {"AttributeName": "ttl",
                                                            "Enabled": True})
        self.assertTrue(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"])
        self.assertTrue(table["SSESpecification"]["SSEEnabled"])

    def test_bucket(self):
        bucket = one(self.t, "AWS::S3::Bucket")["Properties"]
        self.assertEqual(bucket["VersioningConfiguration"], {"Status": "Enabled"})
        [rule] = bucket["LifecycleConfiguration"]["Rules"]
        self.assertEqual(rule["NoncurrentVersionExpiration"],
                         {"NoncurrentDays": {"Ref": "NoncurrentVersionDays"}})
        self.assertEqual(self.source["Parameters"]["NoncurrentVersionDays"]["Default"], 30)
        self.assertEqual(set(bucket["PublicAccessBlockConfiguration"].values()), {True})
        self.assertEqual(len(bucket["PublicAccessBlockConfiguration"]), 4)
        self.assertEqual(bucket["OwnershipControls"]["Rules"],
                         [{"ObjectOwnership": "BucketOwnerEnforced"}])
        [encryption] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        self.assertEqual(encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
                         {"Fn::If": ["UseKms", "aws:kms", "AES256"]})
        policy = one(self.t, "AWS::S3::BucketPolicy")["Properties"]["PolicyDocument"]
        [deny] = policy["Statement"]
        self.assertEqual((deny["Effect"], deny["Principal"], deny["Action"]), ("Deny", "*", "s3:*"))
        self.assertEqual(deny["Condition"], {"Bool": {"aws:SecureTransport": "false"}})
        self.assertEqual(len(deny["Resource"]), 2)  # the bucket and its objects

    def test_secret_from_no_echo_parameters(self):
        secret = one(self.t, "AWS::SecretsManager::Secret")
        self.assertEqual(secret["Condition"], "CreateSecret")
        for name in SECRET_PARAMETERS:
            self.assertTrue(self.source["Parameters"][name].get("NoEcho"), name)
            self.assertEqual(self.source["Parameters"][name]["Default"], "")
        # The credentials JSON the function reads (docs/lambda.md), with quote-free values.
        document = sam.substitute(self.source, secret["Properties"]["SecretString"],
                                  {"ObsidianEmail": "e", "ObsidianPassword": "p",
                                   "ObsidianTotpSecret": "t", "VaultName": "V",
                                   "VaultPassword": "vp"}, STACK)
        self.assertEqual(json.loads(document), {"email": "e", "password": "p", "totp_secret": "t",
                                                "vaults": {"V": {"password": "vp"}}})

    def test_secret_parameters_refuse_what_would_break_the_json(self):
        # !Sub cannot escape: a quote, a backslash or a control character would make the secret
        # invalid JSON (or another document), so the parameters refuse them.
        for name in SECRET_PARAMETERS + ("VaultName",):
            pattern = re.compile(self.source["Parameters"][name]["AllowedPattern"])
            self.assertTrue(pattern.fullmatch("correct horse: battery staple! ü"), name)
            self.assertTrue(pattern.fullmatch(""), name)
            for bad in ('a"b', "a\\b", "a\nb", "a\x01b"):
                self.assertIsNone(pattern.fullmatch(bad), (name, bad))

    def test_alarms(self):
        alarms = resources_of_type(self.t, "AWS::CloudWatch::Alarm")
        sync = alarms["SyncFailureAlarm"]["Properties"]
        # The metric as src/lambda/emf.cpp emits it: namespace, name, and the roll-up dimension
        # set [FunctionName] (an alarm matches one exact dimension set).
        self.assertEqual((sync["Namespace"], sync["MetricName"]), ("Obsync/Lambda", "SyncSuccess"))
        self.assertEqual(sync["Dimensions"], [{"Name": "FunctionName",
                                               "Value": {"Ref": "SyncFunction"}}])
        self.assertEqual((sync["Statistic"], sync["Threshold"], sync["ComparisonOperator"]),
                         ("Minimum", 1, "LessThanThreshold"))
        self.assertEqual(sync["TreatMissingData"], "breaching")
        errors = alarms["FunctionErrorAlarm"]["Properties"]
        self.assertEqual((errors["Namespace"], errors["MetricName"]), ("AWS/Lambda", "Errors"))
        # The scale-out's: a message in the dead-letter queue (> 0)...
        dead = alarms["DeadLetterAlarm"]["Properties"]
        self.assertEqual((dead["Namespace"], dead["MetricName"]),
                         ("AWS/SQS", "ApproximateNumberOfMessagesVisible"))
        self.assertEqual(dead["Dimensions"], [{"Name": "QueueName", "Value": {
            "Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}])
        self.assertEqual((dead["Statistic"], dead["Threshold"], dead["ComparisonOperator"],
                          dead["TreatMissingData"]),
                         ("Maximum", 0, "GreaterThanThreshold", "notBreaching"))
        # ... a stalled continuation chain: the function's metric (scale-spec: namespace
        # Obsync/Lambda, dimension set [FunctionName]), any in the window...
        stalled = alarms["ContinuationStalledAlarm"]["Properties"]
        self.assertEqual((stalled["Namespace"], stalled["MetricName"]),
                         ("Obsync/Lambda", "ContinuationStalled"))
        self.assertEqual(stalled["Dimensions"], [{"Name": "FunctionName",
                                                  "Value": {"Ref": "SyncFunction"}}])
        self.assertEqual((stalled["Statistic"], stalled["Threshold"],
                          stalled["ComparisonOperator"], stalled["TreatMissingData"]),
                         ("Sum", 0, "GreaterThanThreshold", "notBreaching"))
        # ... and a work queue that does not drain: its oldest message older than 6 hours.
        age = alarms["WorkQueueAgeAlarm"]["Properties"]
        self.assertEqual((age["Namespace"], age["MetricName"]),
                         ("AWS/SQS", "ApproximateAgeOfOldestMessage"))
        self.assertEqual(age["Dimensions"], [{"Name": "QueueName", "Value": {
            "Fn::GetAtt": ["WorkQueue", "QueueName"]}}])
        self.assertEqual((age["Statistic"], age["Threshold"], age["ComparisonOperator"]),
                         ("Maximum", 6 * 3600, "GreaterThanThreshold"))
        # ... and a verify that found a backup differing from the server other than by what the
        # next backup fixes: metric math, BackupDrift - BackupDriftPending > 0 over an hour.
        drift = alarms["BackupDriftAlarm"]["Properties"]
        for key in ("Namespace", "MetricName", "Dimensions", "Statistic", "Period"):
            self.assertNotIn(key, drift)  # a Metrics alarm takes none of these
        queries = {q["Id"]: q for q in drift["Metrics"]}
        self.assertEqual(set(queries), {"drift", "pending", "unexplained"})
        for query_id, name in (("drift", "BackupDrift"), ("pending", "BackupDriftPending")):
            query = queries[query_id]
            self.assertIs(query["ReturnData"], False)
            stat = query["MetricStat"]
            self.assertEqual((stat["Metric"]["Namespace"], stat["Metric"]["MetricName"]),
                             ("Obsync/Lambda", name))
            self.assertEqual(stat["Metric"]["Dimensions"], [{"Name": "FunctionName",
                                                             "Value": {"Ref": "SyncFunction"}}])
            # Sums: the difference of maxima could hide one vault's drift behind another's
            # pending count.
            self.assertEqual((stat["Period"], stat["Stat"]), (3600, "Sum"))
        expression = queries["unexplained"]
        self.assertEqual(expression["Expression"], "drift - pending")
        self.assertIs(expression["ReturnData"], True)
        self.assertNotIn("MetricStat", expression)
        self.assertEqual((drift["EvaluationPeriods"], drift["Threshold"],
                          drift["ComparisonOperator"], drift["TreatMissingData"]),
                         (1, 0, "GreaterThanThreshold", "notBreaching"))
        self.assertEqual(set(alarms), {"SyncFailureAlarm", "FunctionErrorAlarm",
                                       "FailedEventAlarm", "DeadLetterAlarm",
                                       "ContinuationStalledAlarm", "WorkQueueAgeAlarm",
                                       "BackupDriftAlarm"})
        for alarm in alarms.values():
            self.assertEqual(alarm["Properties"]["AlarmActions"], [{"Ref": "AlarmTopic"}])
        subscription = one(self.t, "AWS::SNS::Subscription")
        self.assertEqual(subscription["Condition"], "HasAlarmEmail")

    def test_conditions(self):
        conditions = self.t["Conditions"]
        for name in ("UseKms", "UseCustomerKey", "HasWebAcl", "UseVpc", "CreateSecret",
                     "HasReservedConcurrency", "HasAlarmEmail", "HasBucketName",
                     "HasAllowedSecretPrefix"):
            self.assertIn(name, conditions)
        for name in ("S3GatewayEndpoint", "DynamoDbGatewayEndpoint"):
            self.assertEqual(self.resources[name]["Condition"], "UseVpc")
        services = sorted(self.resources[n]["Properties"]["ServiceName"]["Fn::Sub"]
                          for n in ("S3GatewayEndpoint", "DynamoDbGatewayEndpoint"))
        self.assertEqual(services, ["com.amazonaws.${AWS::Region}.dynamodb",
                                    "com.amazonaws.${AWS::Region}.s3"])

    def test_conditional_grants_follow_the_parameters(self):
        """KMS only with SSE-KMS and a key, ENI actions only in a VPC."""
        def role_actions(parameters):
            resolved = sam.resolve_conditions(sam.expand(parameters, self.source), parameters)
            role = resolved["Resources"]["SyncFunctionRole"]["Properties"]
            return {action for policy in role["Policies"]
                    for statement in policy["PolicyDocument"]["Statement"]
                    for action in ([statement["Action"]] if isinstance(statement["Action"], str)
                                   else statement["Action"])}
        default = role_actions({})
        self.assertFalse({a for a in default if a.startswith(("kms:", "ec2:"))}, default)
        key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        kms = role_actions({"BucketEncryption": "SSE-KMS", "KmsKeyArn": key})
        self.assertEqual({a for a in kms if a.startswith("kms:")},
                         {"kms:GenerateDataKey", "kms:Decrypt"})
        vpc = role_actions({"VpcSubnetIds": "subnet-1", "VpcSecurityGroupIds": "sg-1",
                            "VpcId": "vpc-1", "VpcRouteTableIds": "rtb-1"})
        self.assertIn("ec2:CreateNetworkInterface", vpc)

    def test_outputs(self):
        self.assertEqual(set(self.t["Outputs"]),
                         {"ApiUrl", "ApiKeyId", "BucketName", "StateTableName", "FunctionName",
                          "FunctionArn", "SecretArn", "FailureQueueUrl", "AlarmTopicArn",
                          "WorkQueueUrl", "DeadLetterQueueUrl"})
        self.assertTrue(self.t["Outputs"]["ApiUrl"]["Value"]["Fn::Sub"].endswith("/v1/sync"))
        self.assertEqual(self.t["Outputs"]["ApiKeyId"]["Value"], {"Ref": "SyncApiApiKey"})
        self.assertEqual(self.t["Outputs"]["WorkQueueUrl"]["Value"], {"Ref": "WorkQueue"})
        self.assertEqual(self.t["Outputs"]["DeadLetterQueueUrl"]["Value"],
                         {"Ref": "DeadLetterQueue"})

    def test_every_parameter_is_in_one_group(self):
        groups = self.source["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
        grouped = [name for group in groups for name in group["Parameters"]]
        self.assertEqual(len(grouped), len(set(grouped)), "a parameter in two groups")
        self.assertEqual(set(grouped), set(self.source["Parameters"]))

    # ---- the scale-out (issue #13): the work queue, its dead-letter queue, the mapping

    def test_work_queue_visibility_covers_six_function_timeouts(self):
        # AWS's advice for a queue a Lambda function reads: a visibility timeout of at least 6x
        # the function's timeout, so a message never reappears while an invocation holds it.
        timeout = one(self.t, "AWS::Lambda::Function")["Properties"]["Timeout"]
        queue = self.resources["WorkQueue"]
        self.assertEqual(queue["Type"], "AWS::SQS::Queue")
        visibility = queue["Properties"]["VisibilityTimeout"]
        self.assertIsInstance(timeout, int)
        self.assertIsInstance(visibility, int)
        self.assertGreaterEqual(visibility, 6 * timeout)
        self.assertLessEqual(visibility, 43200)  # SQS's largest

    def test_work_queue_and_dead_letter_queue(self):
        work = self.resources["WorkQueue"]["Properties"]
        dead = self.resources["DeadLetterQueue"]["Properties"]
        self.assertEqual(self.resources["DeadLetterQueue"]["Type"], "AWS::SQS::Queue")
        for queue in (work, dead):
            self.assertIs(queue["SqsManagedSseEnabled"], True)
        self.assertEqual(work["MessageRetentionPeriod"], 4 * 86400)
        self.assertEqual(dead["MessageRetentionPeriod"], 14 * 86400)
        # A moved message keeps its first enqueue time: the dead-letter queue must keep it
        # longer than the work queue does, or it expires there early.
        self.assertGreater(dead["MessageRetentionPeriod"], work["MessageRetentionPeriod"])
        self.assertEqual(work["RedrivePolicy"],
                         {"deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
                          "maxReceiveCount": {"Ref": "DeadLetterMaxReceiveCount"}})
        self.assertNotIn("RedrivePolicy", dead)
        receives = self.source["Parameters"]["DeadLetterMaxReceiveCount"]
        self.assertEqual(receives["Type"], "Number")
        self.assertGreaterEqual(receives["MinValue"], 5)
        self.assertEqual(receives["Default"], 8)
        self.assertGreaterEqual(receives["Default"], receives["MinValue"])

    def test_event_source_mapping(self):
        mapping = one(self.t, "AWS::Lambda::EventSourceMapping")["Properties"]
        self.assertEqual(mapping["EventSourceArn"], {"Fn::GetAtt": ["WorkQueue", "Arn"]})
        self.assertEqual(mapping["FunctionName"], {"Ref": "SyncFunction"})
        self.assertEqual(mapping["FunctionResponseTypes"], ["ReportBatchItemFailures"])
        self.assertEqual(mapping["BatchSize"], {"Ref": "QueueBatchSize"})
        self.assertEqual(mapping["ScalingConfig"],
                         {"MaximumConcurrency": {"Ref": "QueueMaximumConcurrency"}})
        self.assertNotIn("MaximumBatchingWindowInSeconds", mapping)
        parameters = self.source["Parameters"]
        batch = parameters["QueueBatchSize"]
        # One vault per invocation by default; SQS allows 10 without a batching window.
        self.assertEqual((batch["Type"], batch["Default"], batch["MinValue"], batch["MaxValue"]),
                         ("Number", 1, 1, 10))
        concurrency = parameters["QueueMaximumConcurrency"]
        # Lambda's bounds for an SQS mapping's MaximumConcurrency: 2 to 1000.
        self.assertEqual((concurrency["Type"], concurrency["Default"], concurrency["MinValue"],
                          concurrency["MaxValue"]), ("Number", 4, 2, 1000))
        # The values given reach the mapping.
        expanded = sam.expand({"QueueMaximumConcurrency": "7", "QueueBatchSize": "3"},
                              self.source)
        resolved = sam.resolve_conditions(expanded, {"QueueMaximumConcurrency": "7",
                                                     "QueueBatchSize": "3"})
        mapping = one(resolved, "AWS::Lambda::EventSourceMapping")["Properties"]
        values = sam._parameter_values(resolved, {"QueueMaximumConcurrency": "7",
                                                  "QueueBatchSize": "3"})
        self.assertEqual(str(values[mapping["ScalingConfig"]["MaximumConcurrency"]["Ref"]]), "7")
        self.assertEqual(str(values[mapping["BatchSize"]["Ref"]]), "3")

    def test_account_parameters(self):
        parameters = self.source["Parameters"]
        accounts = parameters["AccountConcurrency"]
        self.assertEqual((accounts["Type"], accounts["Default"], accounts["MinValue"]),
                         ("Number", 2, 0))
        prefix = parameters["AllowedSecretPrefix"]
        self.assertEqual(prefix["Default"], "")
        pattern = re.compile(prefix["AllowedPattern"])
        for good in ("", "obsync/accounts/", "team-a.obsync_", "a+b=c@d"):
            self.assertTrue(pattern.fullmatch(good), good)
        # It ends in an IAM resource ARN with a "*" appended: no wildcard or odd character in it.
        for bad in ("*", "obsync/*", "a?b", "a b", "a\nb", "arn:aws:x"):
            self.assertIsNone(pattern.fullmatch(bad), bad)
        self.assertEqual(self.t["Conditions"]["HasAllowedSecretPrefix"],
                         {"Fn::Not": [{"Fn::Equals": [{"Ref": "AllowedSecretPrefix"}, ""]}]})

    def test_queue_grants(self):
        """The code's SendMessage on both queues and ChangeMessageVisibility on the work queue;
        the mapping's three actions on the work queue only; nothing of SQS on "*"."""
        by_action: dict[str, list] = {}
        for statement in role_statements(sam.resolve_conditions(self.t, {})):
            self.assertEqual(statement["Effect"], "Allow")
            for action in actions_of(statement):
                if action.startswith("sqs:"):
                    by_action.setdefault(action, []).extend(resources_of(statement))
        arn = lambda name: {"Fn::GetAtt": [name, "Arn"]}  # noqa: E731
        self.assertEqual(sorted(by_action["sqs:SendMessage"], key=json.dumps),
                         sorted([arn("FailureQueue"), arn("WorkQueue"), arn("DeadLetterQueue")],
                                key=json.dumps))
        self.assertEqual(by_action["sqs:ChangeMessageVisibility"], [arn("WorkQueue")])
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
            self.assertEqual(by_action.pop(action), [arn("WorkQueue")], action)
        self.assertEqual(set(by_action), {"sqs:SendMessage", "sqs:ChangeMessageVisibility"})

    def test_secret_prefix_grants_only_with_the_prefix(self):
        def secret_statements(parameters):
            resolved = sam.resolve_conditions(sam.expand(parameters, self.source), parameters)
            return [s for s in role_statements(resolved)
                    if any(a.startswith("secretsmanager:") for a in actions_of(s))]

        # Without a prefix: GetSecretValue on the stack's one secret, no ListSecrets.
        [credentials] = secret_statements({})
        self.assertEqual(actions_of(credentials), ["secretsmanager:GetSecretValue"])
        self.assertEqual(credentials["Resource"], {"Ref": "CredentialsSecret"})
        # With one: ListSecrets alone on "*" (AWS does not scope it), and GetSecretValue on the
        # secrets under the prefix, never on "*".
        with_prefix = secret_statements({"AllowedSecretPrefix": "obsync/accounts/"})
        by_sid = {s["Sid"]: s for s in with_prefix}
        self.assertEqual(set(by_sid), {"Credentials", "ListAccountSecrets", "AccountSecrets"})
        listing = by_sid["ListAccountSecrets"]
        self.assertEqual((actions_of(listing), listing["Resource"]),
                         (["secretsmanager:ListSecrets"], "*"))
        accounts = by_sid["AccountSecrets"]
        self.assertEqual(actions_of(accounts), ["secretsmanager:GetSecretValue"])
        self.assertEqual(accounts["Resource"], {"Fn::Sub": (
            "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
            "${AllowedSecretPrefix}*")})
        for statement in with_prefix:
            if statement["Resource"] == "*":
                self.assertEqual(actions_of(statement), ["secretsmanager:ListSecrets"])
        # In the source: ListSecrets appears once, inside the !If of HasAllowedSecretPrefix.
        policy = self.source["Resources"]["SyncFunctionRole"]["Properties"]["Policies"][0]
        conditional = [s["Fn::If"] for s in policy["PolicyDocument"]["Statement"]
                       if "Fn::If" in s]
        listing = [(condition, yes) for condition, yes, _ in conditional
                   if "secretsmanager:ListSecrets" in actions_of(yes)]
        self.assertEqual([condition for condition, _ in listing], ["HasAllowedSecretPrefix"])
        self.assertEqual(json.dumps(policy).count("secretsmanager:ListSecrets"), 1)


class IamTest(unittest.TestCase):
    """tests/unit/aws/iam_policy_check.py on template.yaml, and on copies of it that drifted."""

    CHECKER = sam.ROOT / "tests" / "unit" / "aws" / "iam_policy_check.py"

    def check(self, text: str | None = None, source: Path | None = None,
              checker: Path | None = None) -> subprocess.CompletedProcess:
        path = sam.TEMPLATE
        if text is not None:
            path = self.folder() / "template.yaml"
            path.write_text(text)
        return subprocess.run([sys.executable, str(checker or self.CHECKER), "--source",
                               str(source or sam.ROOT / "src"), "--policy", str(path)],
                              capture_output=True, text=True, timeout=60)

    def folder(self) -> Path:
        folder = Path(tempfile.mkdtemp(prefix="obsync-iam-"))
        self.addCleanup(shutil.rmtree, folder, True)
        return folder

    def drifted(self, old: str, new: str) -> subprocess.CompletedProcess:
        """The checker on template.yaml with `old` (which must occur once) replaced by `new`."""
        text = sam.TEMPLATE.read_text()
        self.assertEqual(text.count(old), 1, old)
        result = self.check(text.replace(old, new))
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        return result

    LIST_SECRETS = """\
              - !If
                - HasAllowedSecretPrefix
                - Sid: ListAccountSecrets
                  Effect: Allow
                  Action: secretsmanager:ListSecrets
                  Resource: "*"
                - !Ref AWS::NoValue
"""
    EVENT_SOURCE_GRANT = """\
                Action:
                  - sqs:ReceiveMessage
                  - sqs:DeleteMessage
                  - sqs:GetQueueAttributes
                Resource: !GetAtt WorkQueue.Arn
"""

    def test_template_role_matches_code(self):
        result = self.check()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("dynamodb:ConditionCheckItem", result.stdout)

    def test_a_missing_action_fails(self):
        text = sam.TEMPLATE.read_text()
        self.assertIn("                  - dynamodb:ConditionCheckItem\n", text)
        result = self.check(text.replace("                  - dynamodb:ConditionCheckItem\n", ""))
        self.assertEqual(result.returncode, 1)
        self.assertIn("does not grant dynamodb:ConditionCheckItem, needed by TransactWriteItems",
                      result.stdout)

    def test_an_unused_action_fails(self):
        text = sam.TEMPLATE.read_text()
        anchor = "                Action: s3:ListBucketMultipartUploads\n"
        self.assertIn(anchor, text)
        result = self.check(text.replace(anchor, "                Action: [s3:ListBucketMultipartUploads, s3:PutBucketPolicy]\n"))
        self.assertEqual(result.returncode, 1)
        self.assertIn("grants s3:PutBucketPolicy, which no code calls", result.stdout)

    def test_another_action_on_list_secrets_resource_star_fails(self):
        # ListSecrets is the one needed action allowed (and required) on "*": GetSecretValue
        # riding along in its statement would read every secret of the account.
        result = self.drifted(self.LIST_SECRETS, self.LIST_SECRETS.replace(
            "Action: secretsmanager:ListSecrets",
            "Action: [secretsmanager:ListSecrets, secretsmanager:GetSecretValue]"))
        self.assertIn("secretsmanager:GetSecretValue is granted on Resource '*'", result.stdout)
        self.assertNotIn("ListSecrets is granted on Resource", result.stdout)

    def test_a_star_on_a_queue_action_fails(self):
        anchor = ("                Action: sqs:ChangeMessageVisibility\n"
                  "                Resource: !GetAtt WorkQueue.Arn\n")
        result = self.drifted(anchor, anchor.replace("!GetAtt WorkQueue.Arn", '"*"'))
        self.assertIn("sqs:ChangeMessageVisibility is granted on Resource '*'", result.stdout)

    def test_list_secrets_on_a_narrower_resource_fails(self):
        result = self.drifted(self.LIST_SECRETS, self.LIST_SECRETS.replace(
            'Resource: "*"', "Resource: !Sub arn:${AWS::Partition}:secretsmanager:"
                             "${AWS::Region}:${AWS::AccountId}:secret:*"))
        self.assertIn("secretsmanager:ListSecrets must be granted on Resource '*'", result.stdout)

    def test_list_secrets_without_its_condition_fails(self):
        result = self.drifted(self.LIST_SECRETS, """\
              - Sid: ListAccountSecrets
                Effect: Allow
                Action: secretsmanager:ListSecrets
                Resource: "*"
""")
        self.assertRegex(result.stdout, r"secretsmanager:ListSecrets \(.*\) must be granted only "
                                        r"under its condition")

    def test_event_source_actions_on_a_queue_without_a_mapping_fail(self):
        result = self.drifted(self.EVENT_SOURCE_GRANT, self.EVENT_SOURCE_GRANT.replace(
            "WorkQueue.Arn", "DeadLetterQueue.Arn"))
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
            self.assertRegex(result.stdout, re.escape(action) + r" \(.*\) is granted on !GetAtt "
                             r"DeadLetterQueue.Arn, which is not the ARN of a queue an event "
                             r"source mapping of the function reads")
            self.assertIn(f"the event source mapping from WorkQueue needs {action} on it",
                          result.stdout)

    def test_event_source_actions_without_the_mapping_fail(self):
        # The function's SQS event removed: the grant names a queue nothing maps any more.
        text = sam.TEMPLATE.read_text()
        start = text.index("        WorkQueue:\n          Type: SQS\n")
        end = text.index("              MaximumConcurrency: !Ref QueueMaximumConcurrency\n", start)
        end = text.index("\n", end) + 1
        result = self.check(text[:start] + text[end:])
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn("sqs:ReceiveMessage (Lambda's event source mapping polls the queue for the "
                      "function) is granted on !GetAtt WorkQueue.Arn, which is not the ARN",
                      result.stdout)

    def test_a_mapping_without_its_grant_fails(self):
        result = self.drifted(self.EVENT_SOURCE_GRANT, self.EVENT_SOURCE_GRANT.replace(
            "                  - sqs:GetQueueAttributes\n", ""))
        self.assertIn("the event source mapping from WorkQueue needs sqs:GetQueueAttributes on it",
                      result.stdout)

    def test_the_queue_actions_are_granted_for_the_code_and_the_mapping(self):
        result = self.check()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        needed, _, extra = result.stdout.partition("\nand, ")
        self.assertRegex(needed, r"sqs:SendMessage +SendMessage, SendMessageBatch")
        self.assertRegex(needed, r"secretsmanager:ListSecrets +ListSecrets")
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
            self.assertRegex(extra, re.escape(action) + " +Lambda's event source mapping")

    def test_change_message_visibility_is_the_codes_own(self):
        """The work queue's ChangeMessageVisibility (the busy backoff) is called by src/ and
        granted by the template: nothing is granted ahead of the code any more."""
        result = self.check()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertRegex(result.stdout.partition("\nand, ")[0],
                         r"sqs:ChangeMessageVisibility +ChangeMessageVisibility")
        self.assertNotIn("granted ahead of the code", result.stdout)

    def test_the_bucket_policy_deny_is_not_a_grant(self):
        # s3:* appears in the bucket policy (a Deny): were it read as the role's, the check
        # would fail on a wildcard; it passes (test_template_role_matches_code).
        self.assertIn("Action: s3:*", sam.TEMPLATE.read_text())


class MotoDeployTest(unittest.TestCase):
    """The expansion on moto's CloudFormation, then one scheduled run of the real function."""

    def setUp(self):
        self.moto = loopback.MotoServer()
        self.addCleanup(self.moto.close)
        self.work = Path(tempfile.mkdtemp(prefix="obsync-deploy-test-"))
        self.addCleanup(shutil.rmtree, self.work, True)

    def role_policy(self, role_arn: str) -> dict:
        """The role's inline policy as moto's IAM holds it. moto 5.2 keeps a policy that
        CloudFormation made as the Python repr of the document, not JSON: read either."""
        document = self.moto.client("iam").get_role_policy(
            RoleName=role_arn.rsplit("/", 1)[1], PolicyName="obsync-backup")["PolicyDocument"]
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except ValueError:
                document = ast.literal_eval(document)
        return document

    def function_environment(self, function_name: str) -> dict[str, str]:
        """The deployed function's variables, as Lambda gives them to the process: strings.
        (moto keeps a Number parameter's Ref as an int, e.g. OBSYNC_ACCOUNT_CONCURRENCY: 2;
        CloudFormation makes every Ref of a parameter a string.)"""
        variables = self.moto.client("lambda").get_function_configuration(
            FunctionName=function_name)["Environment"]["Variables"]
        return {name: str(value) for name, value in variables.items()}

    def check_scale_out(self, outputs: dict, function: dict, parameters: dict[str, str]) -> dict:
        """The work queue, its dead-letter queue and the event source mapping as moto made
        them, for these parameters; returns {"arn": work queue ARN, "mapping": its UUID}."""
        defaults = sam.load_template()["Parameters"]
        value = lambda name: str(parameters.get(name, defaults[name]["Default"]))  # noqa: E731
        sqs = self.moto.client("sqs")
        work = sqs.get_queue_attributes(QueueUrl=outputs["WorkQueueUrl"],
                                        AttributeNames=["All"])["Attributes"]
        dead = sqs.get_queue_attributes(QueueUrl=outputs["DeadLetterQueueUrl"],
                                        AttributeNames=["All"])["Attributes"]
        self.assertGreaterEqual(int(work["VisibilityTimeout"]), 6 * function["Timeout"])
        self.assertEqual((work["MessageRetentionPeriod"], dead["MessageRetentionPeriod"]),
                         (str(4 * 86400), str(14 * 86400)))
        self.assertEqual(json.loads(work["RedrivePolicy"]),
                         {"deadLetterTargetArn": dead["QueueArn"],
                          "maxReceiveCount": int(value("DeadLetterMaxReceiveCount"))})
        self.assertEqual((work["SqsManagedSseEnabled"], dead["SqsManagedSseEnabled"]),
                         ("true", "true"))
        [mapping] = self.moto.client("lambda").list_event_source_mappings(
            FunctionName=outputs["FunctionName"])["EventSourceMappings"]
        self.assertEqual(mapping["EventSourceArn"], work["QueueArn"])
        self.assertEqual(mapping["FunctionArn"], outputs["FunctionArn"])
        self.assertEqual(mapping["FunctionResponseTypes"], ["ReportBatchItemFailures"])
        self.assertEqual(mapping["BatchSize"], int(value("QueueBatchSize")))
        self.assertEqual(mapping["ScalingConfig"],
                         {"MaximumConcurrency": int(value("QueueMaximumConcurrency"))})
        self.assertEqual(mapping["State"], "Enabled")
        variables = function["Environment"]["Variables"]
        self.assertEqual(variables["OBSYNC_QUEUE_URL"], outputs["WorkQueueUrl"])
        self.assertEqual(variables["OBSYNC_DEAD_LETTER_QUEUE_URL"], outputs["DeadLetterQueueUrl"])
        self.assertEqual(str(variables["OBSYNC_ACCOUNT_CONCURRENCY"]), value("AccountConcurrency"))
        self.assertEqual(variables["ALLOWED_SECRET_PREFIX"], value("AllowedSecretPrefix"))
        # The role as IAM holds it: the queues' own ARNs, and the secrets under the prefix only
        # with one.
        by_sid = {s["Sid"]: s for s in self.role_policy(function["Role"])["Statement"]}
        self.assertEqual(sorted(by_sid["QueueMessages"]["Resource"]),
                         sorted([work["QueueArn"], dead["QueueArn"]]))
        self.assertEqual(by_sid["WorkQueueBackoff"]["Resource"], work["QueueArn"])
        self.assertEqual(by_sid["WorkQueueEventSource"]["Resource"], work["QueueArn"])
        if value("AllowedSecretPrefix"):
            self.assertEqual((by_sid["ListAccountSecrets"]["Action"],
                              by_sid["ListAccountSecrets"]["Resource"]),
                             ("secretsmanager:ListSecrets", "*"))
            self.assertEqual(by_sid["AccountSecrets"]["Resource"],
                             f"arn:aws:secretsmanager:{sam.REGION}:123456789012:secret:"
                             f"{value('AllowedSecretPrefix')}*")
        else:
            self.assertNotIn("ListAccountSecrets", by_sid)
            self.assertNotIn("AccountSecrets", by_sid)
        return {"arn": work["QueueArn"], "mapping": mapping["UUID"]}

    def deploy(self, parameters: dict[str, str]) -> tuple[dict, dict]:
        """Deploys the expansion; returns (stack outputs, {logical id: physical id})."""
        source = sam.load_template()
        expanded = sam.resolve_conditions(sam.expand(parameters, source), parameters)

        stand_ins = {}
        if "CredentialsSecret" in expanded["Resources"]:
            # moto skips AWS::SecretsManager::Secret: the test makes the same secret (the
            # template's name, the template's SecretString with these parameters) and puts its
            # ARN where the template refers to the secret.
            secret = expanded["Resources"]["CredentialsSecret"]["Properties"]
            name = sam.substitute(source, secret["Name"], parameters, STACK)
            document = sam.substitute(source, secret["SecretString"], parameters, STACK)
            stand_ins["CredentialsSecret"] = self.moto.client("secretsmanager").create_secret(
                Name=name, SecretString=document)["ARN"]
        arn = stand_ins.get("CredentialsSecret", parameters.get("ExistingSecretArn"))

        template, dropped, dropped_outputs = sam.for_moto(expanded, stand_ins)
        self.assertEqual(dropped_outputs, ["ApiKeyId", "ApiUrl"])
        for logical, why in sorted(dropped.items()):
            print(f"dropped for moto: {logical} ({expanded['Resources'][logical]['Type']}): {why}",
                  file=sys.stderr)

        s3 = self.moto.client("s3")
        s3.create_bucket(Bucket=sam.CODE_BUCKET)
        # moto stores the package and never runs it; the run below is our emulator's.
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("bootstrap", "#!/bin/sh\n# placeholder: moto does not run it\n")
        s3.put_object(Bucket=sam.CODE_BUCKET, Key=sam.CODE_KEY, Body=package.getvalue())

        cfn = self.moto.client("cloudformation")
        cfn.create_stack(
            StackName=STACK, TemplateBody=json.dumps(template),
            Capabilities=["CAPABILITY_IAM"],
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        )
        deadline = time.monotonic() + 60
        while True:
            stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
            if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(stack["StackStatus"], "CREATE_COMPLETE", stack.get("StackStatusReason"))
        physical = {}
        for resource in cfn.describe_stack_resources(StackName=STACK)["StackResources"]:
            self.assertEqual(resource["ResourceStatus"], "CREATE_COMPLETE", resource)
            physical[resource["LogicalResourceId"]] = resource.get("PhysicalResourceId")
        self.assertEqual(set(physical), set(template["Resources"]),
                         "every resource the test kept is in the stack")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        self.assertEqual(outputs["SecretArn"], arn)
        return outputs, physical

    def test_deploy_with_sse_kms_an_existing_secret_a_bucket_name_and_no_reservation(self):
        key = self.moto.client("kms").create_key()["KeyMetadata"]["Arn"]
        secret = self.moto.client("secretsmanager").create_secret(
            Name="my/own-obsync-secret", SecretString="{}")["ARN"]
        parameters = {"BucketEncryption": "SSE-KMS", "KmsKeyArn": key,
                      "ExistingSecretArn": secret, "BucketName": "my-obsync-backups",
                      "ReservedConcurrency": "-1", "MemorySize": "1024",
                      "QueueMaximumConcurrency": "10", "QueueBatchSize": "2",
                      "DeadLetterMaxReceiveCount": "5", "AccountConcurrency": "0",
                      "AllowedSecretPrefix": "obsync/accounts/"}
        outputs, _ = self.deploy(parameters)
        self.assertEqual(outputs["BucketName"], "my-obsync-backups")
        self.assertEqual(outputs["SecretArn"], secret)
        lam = self.moto.client("lambda")
        function = lam.get_function(FunctionName=outputs["FunctionName"])
        self.assertNotIn("Concurrency", function)  # -1: nothing reserved
        config = function["Configuration"]
        self.assertEqual(config["MemorySize"], 1024)
        variables = config["Environment"]["Variables"]
        self.assertEqual((variables["OBSYNC_SSE"], variables["OBSYNC_SSE_KMS_KEY_ID"]),
                         ("aws:kms", key))
        self.assertEqual(variables["OBSYNC_SECRET_ID"], secret)
        [rule] = self.moto.client("s3").get_bucket_encryption(Bucket="my-obsync-backups")[
            "ServerSideEncryptionConfiguration"]["Rules"]
        self.assertEqual(rule["ApplyServerSideEncryptionByDefault"],
                         {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key})
        document = self.role_policy(config["Role"])
        [kms] = [s for s in document["Statement"] if s["Sid"] == "BucketKey"]
        self.assertEqual((sorted(kms["Action"]), kms["Resource"]),
                         (["kms:Decrypt", "kms:GenerateDataKey"], key))
        self.assertEqual(self.moto.client("secretsmanager").list_secrets()["SecretList"][0]["ARN"],
                         secret, "no second secret")
        self.check_scale_out(outputs, config, parameters)

    def test_deploy_then_a_scheduled_run_backs_up_into_the_stacks_bucket_and_table(self):
        fake = loopback.FakeObsidian([f"{EMAIL}:{ACCOUNT_PASSWORD}:{TOTP_SECRET}"])
        self.addCleanup(fake.close)
        corpus = self.work / "corpus"
        files = {"Hello.md": "# Hello\n", "Notes/a.md": "note a\n", "Notes/b ü.md": "note b\n"}
        for path, text in files.items():
            (corpus / path).parent.mkdir(parents=True, exist_ok=True)
            (corpus / path).write_text(text, encoding="utf-8")
        fake.seed(EMAIL, VAULT, VAULT_PASSWORD, corpus)

        parameters = {"ObsidianEmail": EMAIL, "ObsidianPassword": ACCOUNT_PASSWORD,
                      "ObsidianTotpSecret": TOTP_SECRET, "VaultName": VAULT,
                      "VaultPassword": VAULT_PASSWORD, "BackupPrefix": "obsidian/backups"}
        outputs, physical = self.deploy(parameters)

        # The function's definition as CloudFormation resolved it.
        function = self.moto.client("lambda").get_function_configuration(
            FunctionName=outputs["FunctionName"])
        self.assertEqual(function["FunctionArn"], outputs["FunctionArn"])
        self.assertEqual((function["Runtime"], function["Handler"], function["Timeout"],
                          function["MemorySize"]), ("provided.al2023", "bootstrap", 900, 512))
        scale_out = self.check_scale_out(outputs, function, parameters)
        variables = self.function_environment(outputs["FunctionName"])
        self.assertEqual(variables["S3_BUCKET"], outputs["BucketName"])
        self.assertEqual(variables["STATE_TABLE_NAME"], outputs["StateTableName"])
        self.assertEqual(variables["OBSYNC_SECRET_ID"], outputs["SecretArn"])
        self.assertEqual(variables["S3_PREFIX"], "obsidian/backups")
        self.assertEqual(variables["OBSYNC_SSE"], "AES256")
        self.assertEqual(variables["OBSYNC_ENCRYPTED"], "false")  # EncryptedAtRest's default
        for value in variables.values():
            for secret in (ACCOUNT_PASSWORD, TOTP_SECRET, VAULT_PASSWORD):
                self.assertNotIn(secret, value)

        # The schedule's own event, from the deployed rule.
        events = self.moto.client("events")
        [target] = events.list_targets_by_rule(Rule=physical["SyncFunctionSchedule"])["Targets"]
        self.assertEqual(target["Arn"], outputs["FunctionArn"])
        event = json.loads(target["Input"])
        rule = events.describe_rule(Name=physical["SyncFunctionSchedule"])
        self.assertEqual(rule["ScheduleExpression"], "rate(6 hours)")

        # The table as moto made it: the key schema and billing. (moto's CloudFormation ignores
        # TimeToLiveSpecification and the bucket's VersioningConfiguration: not asserted here,
        # the transform test checks them in the template.)
        # What moto's CloudFormation carries out of the bucket and the log group. It ignores the
        # bucket's VersioningConfiguration, LifecycleConfiguration, PublicAccessBlock,
        # OwnershipControls and BucketKeyEnabled, the table's TimeToLiveSpecification,
        # PointInTimeRecoverySpecification and SSESpecification, and the function's
        # Architectures: those are checked in the expansion (TransformTest), not here.
        s3 = self.moto.client("s3")
        [rule] = s3.get_bucket_encryption(Bucket=outputs["BucketName"])[
            "ServerSideEncryptionConfiguration"]["Rules"]
        self.assertEqual(rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"], "AES256")
        [group] = self.moto.client("logs").describe_log_groups(
            logGroupNamePrefix=f"/aws/lambda/{STACK}-obsync")["logGroups"]
        self.assertEqual(group["retentionInDays"], 30)
        # The role as IAM holds it: the secret's own ARN, the table's, the bucket's prefix.
        document = self.role_policy(function["Role"])
        by_sid = {s["Sid"]: s for s in document["Statement"]}
        self.assertEqual(by_sid["Credentials"]["Resource"], outputs["SecretArn"])
        self.assertEqual(by_sid["BackupObjects"]["Resource"],
                         f"arn:aws:s3:::{outputs['BucketName']}/obsidian/backups/*")
        self.assertTrue(by_sid["SyncState"]["Resource"].endswith(
            f":table/{outputs['StateTableName']}"))
        self.assertNotIn("BucketKey", by_sid)
        self.assertNotIn("LambdaVpcNetworkInterfaces", by_sid)

        ddb = self.moto.client("dynamodb")
        table = ddb.describe_table(TableName=outputs["StateTableName"])["Table"]
        self.assertEqual(sorted((k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]),
                         [("item", "RANGE"), ("vault_id", "HASH")])
        self.assertEqual(table["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST")

        # moto's own event source mapping would try to run the function in Docker for every
        # message sent to the work queue: off, our emulator stands in for Lambda below.
        self.moto.client("lambda").update_event_source_mapping(UUID=scale_out["mapping"],
                                                               Enabled=False)

        env = {**self.moto.aws_environment(), **variables, "OBSIDIAN_API_URL": fake.api}
        emu = RuntimeEmulator([str(loopback.lambda_binary())], env, function_timeout=120,
                              function_name=outputs["FunctionName"], memory_mb=512,
                              init_timeout=30)
        emu.start()
        self.addCleanup(emu.close)
        result = emu.invoke(event)
        tail = "\n".join(result.logs[-20:])
        self.assertEqual(result.kind, "response", tail)
        # The function dispatches (OBSYNC_QUEUE_URL is set): the schedule queued the vault to the
        # work queue; hand the messages to it as Lambda's event source mapping would.
        self.assertTrue(result.payload["success"], json.dumps(result.payload)[:2000])
        self.assertTrue(result.payload["dispatched"], json.dumps(result.payload)[:2000])
        self.assertEqual(result.payload["vaults_queued"], 1)
        self.assertEqual(result.payload["details"]["sync_type"], "incremental")
        mapping = esm_driver.EventSourceMapping(self.moto.client("sqs"), outputs["WorkQueueUrl"],
                                                scale_out["arn"], [emu])
        mapping.start()
        try:
            mapping.wait_until_drained(120)
        finally:
            mapping.stop(60)
        self.assertEqual([i.result.payload for i in mapping.invocations],
                         [{"batchItemFailures": []}])
        results = [result] + [i.result for i in mapping.invocations]
        dead = self.moto.client("sqs").get_queue_attributes(
            QueueUrl=outputs["DeadLetterQueueUrl"],
            AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        self.assertEqual(dead["ApproximateNumberOfMessages"], "0")

        stored = loopback.bucket_files(s3, outputs["BucketName"], f"obsidian/backups/{VAULT}")
        self.assertEqual({k: v.decode() for k, v in stored.items()}, files)
        items = loopback.table_items(ddb, outputs["StateTableName"])
        self.assertTrue(any(i["item"]["S"].startswith("META#") for i in items), items[:3])
        self.assertGreaterEqual(len(loopback.committed_uids(items)), len(files))

        # The metric the SyncSuccess alarm watches: the set [FunctionName] with the stack's
        # function name, value 1; the per-vault set only when VaultMetrics is true (default false).
        rolled_up = []
        for line in [line for r in results for line in r.logs]:
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict) and "_aws" in doc and "SyncSuccess" in doc:
                for directive in doc["_aws"]["CloudWatchMetrics"]:
                    if ["FunctionName"] in directive["Dimensions"]:
                        rolled_up.append((directive["Namespace"], directive["Dimensions"],
                                          "SyncSuccess" in [m["Name"] for m in directive["Metrics"]],
                                          doc["FunctionName"], doc["SyncSuccess"]))
        self.assertEqual(rolled_up,
                         [("Obsync/Lambda", [["FunctionName"]], True, outputs["FunctionName"], 1)])

        # Nothing secret in any log line or answer.
        for secret in (ACCOUNT_PASSWORD, TOTP_SECRET, VAULT_PASSWORD, loopback.TEST_SECRET_KEY,
                       *fake.tokens()):
            for line in emu.all_logs:
                self.assertNotIn(secret, line.text)
            for r in results:
                self.assertNotIn(secret.encode(), r.raw)


if __name__ == "__main__":
    unittest.main()
