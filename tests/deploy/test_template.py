"""template.yaml (the AWS SAM template) offline and on loopback:

- LintTest: cfn-lint passes (no blanket ignores).
- TransformTest: samtranslator expands it without network; the expansion has what the issue asks
  for (API key on POST /sync, usage plan from the parameters, the schedule and its input, the
  event invoke config, the table, the bucket, the secret, the alarms, the conditions).
- MotoDeployTest: the expansion deploys to moto's CloudFormation (minus sam.MOTO_UNSUPPORTED),
  every remaining resource reaches CREATE_COMPLETE, and build/obsync-lambda, run by our Runtime
  API emulator with the environment of the deployed function and the schedule's own input,
  backs a fake-server vault up into the stack's bucket and table.

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
                                          "OBSYNC_VAULT_METRICS"})
        self.assertEqual(variables["OBSYNC_VAULT_METRICS"], {"Ref": "VaultMetrics"})
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
        rule = one(self.t, "AWS::Events::Rule")["Properties"]
        self.assertEqual(rule["ScheduleExpression"], {"Ref": "ScheduleExpression"})
        self.assertEqual(self.source["Parameters"]["ScheduleExpression"]["Default"],
                         "rate(6 hours)")
        [target] = rule["Targets"]
        self.assertEqual(json.loads(target["Input"]), {"sync_type": "incremental"})

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
        for alarm in alarms.values():
            self.assertEqual(alarm["Properties"]["AlarmActions"], [{"Ref": "AlarmTopic"}])
        subscription = one(self.t, "AWS::SNS::Subscription")
        self.assertEqual(subscription["Condition"], "HasAlarmEmail")

    def test_conditions(self):
        conditions = self.t["Conditions"]
        for name in ("UseKms", "UseCustomerKey", "HasWebAcl", "UseVpc", "CreateSecret",
                     "HasReservedConcurrency", "HasAlarmEmail", "HasBucketName"):
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
                          "FunctionArn", "SecretArn", "FailureQueueUrl", "AlarmTopicArn"})
        self.assertTrue(self.t["Outputs"]["ApiUrl"]["Value"]["Fn::Sub"].endswith("/v1/sync"))
        self.assertEqual(self.t["Outputs"]["ApiKeyId"]["Value"], {"Ref": "SyncApiApiKey"})


class IamTest(unittest.TestCase):
    """tests/unit/aws/iam_policy_check.py on template.yaml, and on copies of it that drifted."""

    CHECKER = sam.ROOT / "tests" / "unit" / "aws" / "iam_policy_check.py"

    def check(self, text: str | None = None) -> subprocess.CompletedProcess:
        path = sam.TEMPLATE
        if text is not None:
            folder = Path(tempfile.mkdtemp(prefix="obsync-iam-"))
            self.addCleanup(shutil.rmtree, folder, True)
            path = folder / "template.yaml"
            path.write_text(text)
        return subprocess.run([sys.executable, str(self.CHECKER), "--source",
                               str(sam.ROOT / "src"), "--policy", str(path)],
                              capture_output=True, text=True, timeout=60)

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
                      "ReservedConcurrency": "-1", "MemorySize": "1024"}
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
        variables = function["Environment"]["Variables"]
        self.assertEqual(variables["S3_BUCKET"], outputs["BucketName"])
        self.assertEqual(variables["STATE_TABLE_NAME"], outputs["StateTableName"])
        self.assertEqual(variables["OBSYNC_SECRET_ID"], outputs["SecretArn"])
        self.assertEqual(variables["S3_PREFIX"], "obsidian/backups")
        self.assertEqual(variables["OBSYNC_SSE"], "AES256")
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

        env = {**self.moto.aws_environment(), **variables, "OBSIDIAN_API_URL": fake.api}
        emu = RuntimeEmulator([str(loopback.lambda_binary())], env, function_timeout=120,
                              function_name=outputs["FunctionName"], memory_mb=512,
                              init_timeout=30)
        emu.start()
        self.addCleanup(emu.close)
        result = emu.invoke(event)
        tail = "\n".join(result.logs[-20:])
        self.assertEqual(result.kind, "response", tail)
        self.assertTrue(result.payload["success"], json.dumps(result.payload)[:2000])
        self.assertEqual(result.payload["details"]["sync_type"], "incremental")

        stored = loopback.bucket_files(s3, outputs["BucketName"], f"obsidian/backups/{VAULT}")
        self.assertEqual({k: v.decode() for k, v in stored.items()}, files)
        items = loopback.table_items(ddb, outputs["StateTableName"])
        self.assertTrue(any(i["item"]["S"].startswith("META#") for i in items), items[:3])
        self.assertGreaterEqual(len(loopback.committed_uids(items)), len(files))

        # The metric the SyncSuccess alarm watches: the set [FunctionName] with the stack's
        # function name, value 1; the per-vault set only when VaultMetrics is true (default false).
        rolled_up = []
        for line in result.logs:
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
            self.assertNotIn(secret.encode(), result.raw)


if __name__ == "__main__":
    unittest.main()
