"""The deploy targets of the Makefile (scripts/deploy.sh) against moto_server on loopback.

Each test runs the real `make <target>` with AWS_ENDPOINT_URL pointing at moto (the installed AWS
CLI honours that variable itself; scripts/deploy.sh checks it does). How far moto goes:
- deploy-lambda: the whole way (update-function-code, the code's SHA-256, the waiter); moto ignores
  --architectures on an update, so a change of architecture is refused by the script's check;
- deploy-infrastructure: `cloudformation package` uploads the zip (checked byte for byte) and
  `cloudformation deploy` of the SAM template "succeeds" with nothing created: moto's CloudFormation
  does not expand the AWS::Serverless transform, so the script stops at the missing SecretArn
  output. A plain CloudFormation template (no transform) goes the whole way: the function created
  from the uploaded package, the credentials in the secret named by ExistingSecretArn (moto never
  sets the outputs of a stack deployed through a change set);
- invoke-lambda: moto needs Docker to run any function: the invocation ends in a function error
  ("error running docker"), which the target reports by failing.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lambda"))

import loopback  # noqa: E402

ACCOUNT = "123456789012"
REGION = loopback.REGION
EMAIL = "deploy-test@example.com"
PASSWORD = "deploy-test-SECRET-password-4711"
TOTP = "JBSWY3DPEHPKDEPLOYTESTSECRET"
VAULT_PASSWORD = "deploy test SECRET vault words"
SECRETS = (PASSWORD, TOTP, VAULT_PASSWORD, loopback.TEST_SECRET_KEY)

SAM_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Description: the contract's shape, minimal (the real template.yaml is written elsewhere)
Parameters:
  Architecture: {Type: String, Default: arm64, AllowedValues: [arm64, x86_64]}
  ObsidianPassword: {Type: String, Default: "", NoEcho: true}
Resources:
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties: {SecretString: "{}"}
  Function:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: build/lambda/function.zip
      Handler: bootstrap
      Runtime: provided.al2023
      Architectures: [!Ref Architecture]
Outputs:
  SecretArn: {Value: !Ref Secret}
  FunctionName: {Value: !Ref Function}
"""

# No transform: moto's CloudFormation creates all of it.
PLAIN_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Architecture: {Type: String, Default: arm64, AllowedValues: [arm64, x86_64]}
  ExistingSecretArn: {Type: String}
  Note: {Type: String, Default: ""}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Code: build/lambda/function.zip
      Handler: bootstrap
      Runtime: provided.al2023
      Architectures: [!Ref Architecture]
      Role: !GetAtt Role.Arn
Outputs:
  SecretArn: {Value: !Ref ExistingSecretArn}
  FunctionName: {Value: !Ref Function}
"""


def make_zip(label: str) -> bytes:
    """A package-shaped zip (bootstrap at the root, lib/) with unique content."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        z.writestr(info, f"#!/bin/sh\n# {label} {uuid.uuid4()}\nexit 1\n")
        z.writestr("lib/README", os.urandom(64).hex())
    return buffer.getvalue()


def honours_endpoint_variable(version: str) -> bool:
    """Whether this AWS CLI reads AWS_ENDPOINT_URL (botocore 1.31 / CLI v2.13 and later)."""
    found = re.search(r"botocore/(\d+)\.(\d+)\.(\d+)", version)
    if found:
        return tuple(map(int, found.groups())) >= (1, 31, 0)
    found = re.match(r"aws-cli/(\d+)\.(\d+)\.(\d+)", version)
    return bool(found) and tuple(map(int, found.groups())) >= (2, 13, 0)


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class ArgvWatcher:
    """Polls every process's command line while a target runs, to prove that no secret ever
    appears in one (what `ps` would show)."""

    def __init__(self, needles: tuple[str, ...]):
        self.needles = [n.encode() for n in needles]
        self.hits: list[str] = []
        self.seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                        argv = f.read()
                except OSError:
                    continue
                if b"aws" in argv:
                    self.seen += 1
                for needle in self.needles:
                    if needle in argv:
                        self.hits.append(argv.replace(b"\0", b" ").decode(errors="replace")[:200])
            time.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class DeployCase(unittest.TestCase):
    moto: loopback.MotoServer

    @classmethod
    def setUpClass(cls):
        if shutil.which("aws") is None:
            raise unittest.SkipTest("the AWS CLI (aws) is not installed")
        if shutil.which("make") is None:
            raise unittest.SkipTest("make is not installed")
        version = subprocess.run(["aws", "--version"], capture_output=True, text=True).stdout
        if not honours_endpoint_variable(version):
            raise unittest.SkipTest(f"{version.strip()} ignores AWS_ENDPOINT_URL: it would reach AWS, not moto")
        cls.moto = loopback.MotoServer()

    @classmethod
    def tearDownClass(cls):
        cls.moto.close()

    def setUp(self):
        self.work = Path(tempfile.mkdtemp(prefix="obsync-deploy-test-"))
        self.addCleanup(shutil.rmtree, self.work, True)
        self.tmp = self.work / "tmp"  # TMPDIR of the target: must be empty afterwards
        self.tmp.mkdir()
        self.s3 = self.moto.client("s3")
        self.lambda_ = self.moto.client("lambda")
        self.cfn = self.moto.client("cloudformation")
        self.secrets = self.moto.client("secretsmanager")

    def environment(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "OBSIDIAN_", "LAMBDA_", "STACK_", "MAKE", "MFLAGS"))
               and k not in ("CREDENTIALS_FILE", "PARAMETER_OVERRIDES", "TEMPLATE")}
        env.update(
            AWS_ACCESS_KEY_ID=loopback.TEST_ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=loopback.TEST_SECRET_KEY,
            AWS_ENDPOINT_URL=self.moto.endpoint,
            AWS_CONFIG_FILE=str(self.work / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.work / "no-aws-credentials"),
            LAMBDA_REGION=REGION,
            TMPDIR=str(self.tmp),
        )
        env.update(extra)
        return env

    def make(self, target: str, env: dict[str, str], *variables: str, watch: bool = False):
        watcher = ArgvWatcher(SECRETS) if watch else None
        try:
            result = subprocess.run(
                ["make", "--no-print-directory", "-C", str(ROOT), target, *variables],
                env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
            )
        finally:
            if watcher:
                watcher.stop()
        output = result.stdout + result.stderr
        for secret in SECRETS:
            self.assertNotIn(secret, output, f"a secret in make {target}'s output")
        if watcher:
            self.assertEqual(watcher.hits, [], "a secret on a command line")
            self.assertGreater(watcher.seen, 0, "the watcher saw no aws process: it proves nothing")
        self.assertEqual(sorted(p.name for p in self.tmp.iterdir()), [], "temporary files left behind")
        return result

    def write_zip(self, arch: str, label: str) -> tuple[Path, bytes]:
        data = make_zip(label)
        path = self.work / "build" / "lambda" / f"obsync-lambda-{arch}.zip"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path, data

    def create_function(self, name: str, arch: str) -> None:
        iam = self.moto.client("iam")
        role = f"{name}-role"
        arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        self.lambda_.create_function(
            FunctionName=name, Runtime="provided.al2023", Handler="bootstrap", Role=arn,
            Code={"ZipFile": make_zip("initial")}, Architectures=[arch],
        )


class DeployLambdaTest(DeployCase):
    def test_updates_the_code(self):
        name = f"obsync-{uuid.uuid4().hex[:8]}"
        self.create_function(name, "arm64")
        before = self.lambda_.get_function(FunctionName=name)["Configuration"]["CodeSha256"]
        zip_path, data = self.write_zip("arm64", "update")
        result = self.make("deploy-lambda", self.environment(LAMBDA_ZIP=str(zip_path)),
                           f"LAMBDA_FUNCTION_NAME={name}", "LAMBDA_ARCH=arm64")
        self.assertEqual(result.returncode, 0, result.stderr)
        config = self.lambda_.get_function(FunctionName=name)["Configuration"]
        self.assertNotEqual(config["CodeSha256"], before)
        self.assertEqual(config["CodeSha256"], sha256_b64(data))
        self.assertEqual(config["Architectures"], ["arm64"])
        self.assertEqual(config["Handler"], "bootstrap")
        self.assertEqual(config["Runtime"], "provided.al2023")
        self.assertIn(f"deployed: {name}", result.stderr)
        self.assertIn("AWS_ENDPOINT_URL", result.stderr)

    def test_a_change_of_architecture_is_checked(self):
        name = f"obsync-{uuid.uuid4().hex[:8]}"
        self.create_function(name, "x86_64")
        zip_path, data = self.write_zip("arm64", "arch")
        result = self.make("deploy-lambda", self.environment(LAMBDA_ZIP=str(zip_path)),
                           f"LAMBDA_FUNCTION_NAME={name}", "LAMBDA_ARCH=arm64")
        config = self.lambda_.get_function(FunctionName=name)["Configuration"]
        self.assertEqual(config["CodeSha256"], sha256_b64(data))
        if config["Architectures"] == ["arm64"]:  # Lambda's behaviour
            self.assertEqual(result.returncode, 0, result.stderr)
        else:  # moto 5 keeps the architecture on update-function-code: the script says so
            self.assertEqual(config["Architectures"], ["x86_64"])
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("runs on x86_64 after the update, not arm64", result.stderr)

    def test_missing_package(self):
        result = self.make("deploy-lambda", self.environment(LAMBDA_ZIP=str(self.work / "none.zip")),
                           "LAMBDA_FUNCTION_NAME=whatever", "LAMBDA_ARCH=x86_64")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("make build-lambda LAMBDA_ARCH=x86_64", result.stderr)

    def test_not_a_package(self):
        path = self.work / "obsync-lambda-arm64.zip"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("bin/obsync-lambda", "x")
        result = self.make("deploy-lambda", self.environment(LAMBDA_ZIP=str(path)),
                           "LAMBDA_FUNCTION_NAME=whatever")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("bootstrap at its root", result.stderr)


class DeployInfrastructureTest(DeployCase):
    def credentials_env(self, **extra: str) -> dict[str, str]:
        return dict(OBSIDIAN_EMAIL=EMAIL, OBSIDIAN_PASSWORD=PASSWORD, OBSIDIAN_TOTP_SECRET=TOTP,
                    OBSIDIAN_VAULT_PASSWORD=VAULT_PASSWORD, OBSIDIAN_VAULT="Work", **extra)

    def setUp(self):
        super().setUp()
        if shutil.which("sam") is not None:
            self.skipTest("sam is on PATH: the target would run sam deploy, which these tests do not cover")

    def objects(self, bucket: str, prefix: str) -> dict[str, bytes]:
        listing = self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        return {o["Key"]: self.s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listing}

    def test_sam_template_stops_where_moto_does(self):
        (self.work / "template.yaml").write_text(SAM_TEMPLATE)
        zip_path, data = self.write_zip("x86_64", "sam")
        stack = f"obsync-sam-{uuid.uuid4().hex[:6]}"
        functions_before = {f["FunctionName"] for f in self.lambda_.list_functions()["Functions"]}
        env = self.environment(TEMPLATE=str(self.work / "template.yaml"), LAMBDA_ZIP=str(zip_path),
                               **self.credentials_env())
        result = self.make("deploy-infrastructure", env, f"STACK_NAME={stack}", "LAMBDA_ARCH=x86_64", watch=True)

        # The contract: the arch zip copied to build/lambda/function.zip beside the template.
        self.assertEqual((self.work / "build" / "lambda" / "function.zip").read_bytes(), data)
        # package: the default artifact bucket was created and holds the zip, byte for byte.
        uploaded = self.objects(f"obsync-artifacts-{ACCOUNT}-{REGION}", f"{stack}/")
        self.assertIn(data, uploaded.values(), f"the zip was not uploaded: {list(uploaded)}")
        # deploy: moto accepts the change set and reports success, yet expands nothing.
        description = self.cfn.describe_stacks(StackName=stack)["Stacks"][0]
        self.assertEqual(description["StackStatus"], "CREATE_COMPLETE")
        self.assertEqual(description.get("Outputs", []), [])
        self.assertEqual({p["ParameterKey"]: p["ParameterValue"] for p in description["Parameters"]}["Architecture"], "x86_64")
        functions_after = {f["FunctionName"] for f in self.lambda_.list_functions()["Functions"]}
        self.assertEqual(functions_after, functions_before, "moto created a function from the SAM transform")
        # Where it stops: no SecretArn output, so the credentials are not stored; the target fails.
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"stack {stack} has no SecretArn output: the credentials were not stored", result.stderr)
        self.assertIn("aws --region us-east-1 cloudformation deploy", result.stderr)
        self.assertIn("CAPABILITY_IAM CAPABILITY_AUTO_EXPAND", result.stderr)

    def test_plain_template_goes_the_whole_way(self):
        """A template without the transform: package, deploy, credentials into the secret; then
        deploy-lambda finds the function through the stack, and invoke-lambda meets moto's limit."""
        secret_arn = self.secrets.create_secret(Name=f"obsync/{uuid.uuid4().hex[:8]}", SecretString="{}")["ARN"]
        (self.work / "template.yaml").write_text(PLAIN_TEMPLATE)
        # x86_64: moto's CloudFormation ignores Architectures (every function it creates is x86_64),
        # and deploy-lambda checks the architecture after its update.
        zip_path, data = self.write_zip("x86_64", "plain")
        stack = f"obsync-plain-{uuid.uuid4().hex[:6]}"
        bucket = f"obsync-test-artifacts-{uuid.uuid4().hex[:8]}"
        env = self.environment(TEMPLATE=str(self.work / "template.yaml"), LAMBDA_ZIP=str(zip_path),
                               LAMBDA_ARTIFACT_BUCKET=bucket, **self.credentials_env())
        # A value with spaces, quoted as in the shell, stays one parameter.
        result = self.make("deploy-infrastructure", env, f"STACK_NAME={stack}", "LAMBDA_ARCH=x86_64",
                           f"PARAMETER_OVERRIDES=ExistingSecretArn={secret_arn} 'Note=rate(1 hour)'",
                           watch=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        parameters = self.cfn.describe_stacks(StackName=stack)["Stacks"][0]["Parameters"]
        self.assertEqual({p["ParameterKey"]: p["ParameterValue"] for p in parameters}["Note"],
                         "rate(1 hour)")
        self.assertIn(data, self.objects(bucket, f"{stack}/").values())
        stored = json.loads(self.secrets.get_secret_value(SecretId=secret_arn)["SecretString"])
        self.assertEqual(stored, {"email": EMAIL, "password": PASSWORD, "totp_secret": TOTP,
                                  "vaults": {"Work": {"password": VAULT_PASSWORD}}})
        self.assertIn("storing the credentials (email, password, totp_secret, vaults)", result.stderr)
        # moto creates the resources of a change set but never sets the stack's outputs: the
        # secret is the ExistingSecretArn given, the function the stack's one function.
        self.assertEqual(self.cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", []), [])
        self.assertIn("has no SecretArn output: using ExistingSecretArn", result.stderr)
        resources = self.cfn.describe_stack_resources(StackName=stack)["StackResources"]
        name = next(r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::Lambda::Function")
        config = self.lambda_.get_function(FunctionName=name)["Configuration"]
        self.assertEqual(config["CodeSha256"], sha256_b64(data), "the function is not the uploaded package")

        # deploy-lambda without LAMBDA_FUNCTION_NAME: the stack's FunctionName output.
        new_path, new_data = self.write_zip("x86_64", "second")
        env = self.environment(LAMBDA_ZIP=str(new_path))
        result = self.make("deploy-lambda", env, f"STACK_NAME={stack}", "LAMBDA_ARCH=x86_64")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"function: {name} (the AWS::Lambda::Function of stack {stack})", result.stderr)
        self.assertEqual(self.lambda_.get_function(FunctionName=name)["Configuration"]["CodeSha256"],
                         sha256_b64(new_data))

        # invoke-lambda: moto cannot run a function without Docker; the target fails on the
        # function error and prints what came back.
        result = self.make("invoke-lambda", self.environment(), f"STACK_NAME={stack}")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("--payload {\"sync_type\":\"incremental\"}", result.stderr)
        self.assertIn("the invocation ended in a function error (Handled, status 200)", result.stderr)
        self.assertIn("docker", result.stdout.lower())

    def test_credentials_never_go_on_a_command_line(self):
        result = self.make("deploy-infrastructure", self.environment(**self.credentials_env()),
                           "STACK_NAME=refused", "PARAMETER_OVERRIDES=ObsidianPassword=x")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("ObsidianPassword in PARAMETER_OVERRIDES would put a credential on a command line", result.stderr)

    def test_vault_password_needs_a_vault(self):
        (self.work / "template.yaml").write_text(SAM_TEMPLATE)
        zip_path, _ = self.write_zip("arm64", "vault")
        env = self.environment(TEMPLATE=str(self.work / "template.yaml"), LAMBDA_ZIP=str(zip_path),
                               OBSIDIAN_VAULT_PASSWORD=VAULT_PASSWORD)
        result = self.make("deploy-infrastructure", env, "STACK_NAME=never")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("OBSIDIAN_VAULT_PASSWORD needs OBSIDIAN_VAULT", result.stderr)
        stacks = [s["StackName"] for s in self.cfn.list_stacks()["StackSummaries"]]
        self.assertNotIn("never", stacks, "deployed although the credentials were refused")

    def test_a_partial_secret_is_refused_before_anything_is_deployed(self):
        # The secret is replaced as a whole: a vault password alone would erase the sign-in.
        (self.work / "template.yaml").write_text(SAM_TEMPLATE)
        zip_path, _ = self.write_zip("arm64", "partial")
        env = self.environment(TEMPLATE=str(self.work / "template.yaml"), LAMBDA_ZIP=str(zip_path),
                               OBSIDIAN_VAULT_PASSWORD=VAULT_PASSWORD, OBSIDIAN_VAULT="Work")
        result = self.make("deploy-infrastructure", env, "STACK_NAME=partial")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("give OBSIDIAN_EMAIL and OBSIDIAN_PASSWORD", result.stderr)
        self.assertNotIn(VAULT_PASSWORD, result.stderr + result.stdout)
        stacks = [s["StackName"] for s in self.cfn.list_stacks()["StackSummaries"]]
        self.assertNotIn("partial", stacks, "deployed although the credentials were refused")

    def test_credentials_file(self):
        secret_arn = self.secrets.create_secret(Name=f"obsync/{uuid.uuid4().hex[:8]}", SecretString="{}")["ARN"]
        (self.work / "template.yaml").write_text(PLAIN_TEMPLATE)
        zip_path, _ = self.write_zip("arm64", "file")
        creds = self.work / "credentials.json"
        document = {"email": EMAIL, "password": PASSWORD, "vaults": {"A": {"password": VAULT_PASSWORD}}}
        creds.write_text(json.dumps(document))
        stack = f"obsync-file-{uuid.uuid4().hex[:6]}"
        env = self.environment(TEMPLATE=str(self.work / "template.yaml"), LAMBDA_ZIP=str(zip_path),
                               CREDENTIALS_FILE=str(creds), OBSIDIAN_TOTP_SECRET=TOTP)
        result = self.make("deploy-infrastructure", env, f"STACK_NAME={stack}",
                           f"PARAMETER_OVERRIDES=ExistingSecretArn={secret_arn}", watch=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        stored = json.loads(self.secrets.get_secret_value(SecretId=secret_arn)["SecretString"])
        self.assertEqual(stored, {**document, "totp_secret": TOTP})


if __name__ == "__main__":
    unittest.main()
