#!/usr/bin/env bash
# The deploy targets of the Makefile (docs/deployment.md):
#   scripts/deploy.sh deploy-lambda          new code for an existing function
#   scripts/deploy.sh deploy-infrastructure  the SAM stack (template.yaml), then the credentials
#   scripts/deploy.sh invoke-lambda          one incremental run, the response printed
# Variables: LAMBDA_FUNCTION_NAME (default: the stack's FunctionName output), LAMBDA_REGION
# (default: AWS_REGION, AWS_DEFAULT_REGION, then the CLI's configuration), LAMBDA_ARCH (arm64),
# STACK_NAME (obsync), AWS (aws), AWS_ENDPOINT_URL (every AWS call goes there; the tests use
# moto), LAMBDA_ZIP (build/lambda/obsync-lambda-$LAMBDA_ARCH.zip), TEMPLATE (template.yaml),
# LAMBDA_ARTIFACT_BUCKET, PARAMETER_OVERRIDES, LAMBDA_PAYLOAD.
# Credentials (deploy-infrastructure): OBSIDIAN_EMAIL, OBSIDIAN_PASSWORD, OBSIDIAN_TOTP_SECRET,
# OBSIDIAN_VAULT_PASSWORD (+ OBSIDIAN_VAULT) and/or CREDENTIALS_FILE, read from the environment
# only; they reach the secret through a 0600 file, never a command line, and are never printed.
set -euo pipefail
cd "$(dirname "$0")/.."

LAMBDA_ARCH=${LAMBDA_ARCH:-arm64}
STACK_NAME=${STACK_NAME:-obsync}
LAMBDA_ZIP=${LAMBDA_ZIP:-build/lambda/obsync-lambda-$LAMBDA_ARCH.zip}
TEMPLATE=${TEMPLATE:-template.yaml}
read -r -a aws <<<"${AWS:-aws}"
out="" scratch="" # temporary files, removed on exit (globals: the EXIT trap runs outside functions)

say() { echo "deploy: $*" >&2; }
die() {
    echo "deploy: error: $*" >&2
    exit 1
}

# Prints the command (it never holds a secret: they travel in files), then runs it.
run() {
    echo "+ $*" >&2
    "$@"
}

case "$LAMBDA_ARCH" in
arm64 | x86_64) ;;
*) die "LAMBDA_ARCH must be arm64 or x86_64, not '$LAMBDA_ARCH'" ;;
esac
command -v "${aws[0]}" >/dev/null || die "${aws[0]} not found (install the AWS CLI: pip install awscli)"

cli_version=$("${aws[@]}" --version 2>&1)
cli_major=${cli_version#aws-cli/}
cli_major=${cli_major%%.*}

# AWS_ENDPOINT_URL: the CLI itself must honour it (botocore >= 1.31, CLI v2 >= 2.13), because
# `cloudformation package` makes its own S3 client that --endpoint-url does not reach: with an older
# CLI the artifact would go to the real S3. Checked rather than assumed.
if [[ -n ${AWS_ENDPOINT_URL:-} ]]; then
    honours=$(python3 - "$cli_version" <<'EOF'
import re, sys
text = sys.argv[1]
def at_least(found, wanted):
    return tuple(map(int, found.split("."))) >= wanted
m = re.search(r"botocore/(\d+\.\d+\.\d+)", text)
if m:
    print("yes" if at_least(m.group(1), (1, 31, 0)) else "no")
else:
    m = re.match(r"aws-cli/(\d+\.\d+\.\d+)", text)
    print("yes" if m and at_least(m.group(1), (2, 13, 0)) else "no")
EOF
    )
    [[ $honours == yes ]] || die "AWS_ENDPOINT_URL is set but this CLI ($cli_version) ignores it; upgrade the AWS CLI"
    say "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL: every AWS call goes there"
fi

region=${LAMBDA_REGION:-${AWS_REGION:-${AWS_DEFAULT_REGION:-}}}
if [[ -z $region ]]; then
    region=$("${aws[@]}" configure get region 2>/dev/null || true)
fi
[[ -n $region ]] || die "no region: set LAMBDA_REGION (or AWS_REGION)"
awsr() { run "${aws[@]}" --region "$region" "$@"; }
awsq() { "${aws[@]}" --region "$region" "$@"; } # quiet: for look-ups

# The value of one output of the stack, or empty.
stack_output() {
    local value
    value=$(awsq cloudformation describe-stacks --stack-name "$STACK_NAME" \
        --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue | [0]" --output text 2>/dev/null) || value=""
    [[ $value == None ]] && value=""
    echo "$value"
}

function_name() {
    if [[ -n ${LAMBDA_FUNCTION_NAME:-} ]]; then
        echo "$LAMBDA_FUNCTION_NAME"
        return
    fi
    local name from="output FunctionName of stack $STACK_NAME"
    name=$(stack_output FunctionName)
    if [[ -z $name ]]; then
        # A stack without the output (moto's change sets never set outputs): its one function.
        from="the AWS::Lambda::Function of stack $STACK_NAME"
        name=$(awsq cloudformation describe-stack-resources --stack-name "$STACK_NAME" \
            --query "StackResources[?ResourceType=='AWS::Lambda::Function'].PhysicalResourceId" \
            --output text 2>/dev/null) || name=""
        [[ $name != None && $name != *[[:space:]]* ]] || name=""
    fi
    [[ -n $name ]] || die "set LAMBDA_FUNCTION_NAME (stack $STACK_NAME in $region has no FunctionName output nor a single function)"
    say "function: $name ($from)"
    echo "$name"
}

# The package, checked: a zip with bootstrap at its root.
check_zip() {
    [[ -f $LAMBDA_ZIP ]] || die "$LAMBDA_ZIP does not exist: run make build-lambda LAMBDA_ARCH=$LAMBDA_ARCH"
    python3 - "$LAMBDA_ZIP" <<'EOF' || die "$LAMBDA_ZIP is not a Lambda package (a zip with bootstrap at its root)"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    sys.exit(0 if "bootstrap" in z.namelist() else 1)
EOF
}

zip_sha256() {
    python3 -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha256(open(sys.argv[1], "rb").read()).digest()).decode())' "$1"
}

deploy_lambda() {
    check_zip
    local name sha got
    name=$(function_name)
    sha=$(zip_sha256 "$LAMBDA_ZIP")
    say "uploading $LAMBDA_ZIP ($LAMBDA_ARCH, SHA-256 $sha) to $name in $region"
    # An update still in progress (a previous deploy) would refuse this one.
    awsr lambda wait function-updated --function-name "$name"
    got=$(awsr lambda update-function-code --function-name "$name" --zip-file "fileb://$LAMBDA_ZIP" \
        --architectures "$LAMBDA_ARCH" --query '[CodeSha256, Architectures[0], Handler]' --output text)
    read -r got_sha got_arch got_handler <<<"$got"
    [[ $got_sha == "$sha" ]] || die "Lambda reports code SHA-256 $got_sha, not the zip's $sha"
    awsr lambda wait function-updated --function-name "$name"
    if [[ $got_arch != "$LAMBDA_ARCH" ]]; then
        die "the function runs on $got_arch after the update, not $LAMBDA_ARCH (the package would not start)"
    fi
    say "deployed: $name, code $got_sha, $got_arch, handler $got_handler"
}

invoke_lambda() {
    local name payload meta status error
    name=$(function_name)
    payload=${LAMBDA_PAYLOAD:-'{"sync_type":"incremental"}'}
    out=$(mktemp -t obsync-invoke-XXXXXX)
    trap 'rm -f "$out"' EXIT
    local binary=()
    # CLI v2 reads a blob argument as base64 unless told otherwise; v1 sends the text as it is.
    [[ $cli_major == 1 ]] || binary=(--cli-binary-format raw-in-base64-out)
    say "invoking $name in $region with $payload"
    # A synchronous invocation may run for 15 minutes: the CLI's default 60 s read timeout would
    # end the wait and retry, i.e. start the backup again. No timeout, no retry.
    meta=$(AWS_MAX_ATTEMPTS=1 awsr lambda invoke --cli-read-timeout 0 --cli-connect-timeout 30 \
        --function-name "$name" "${binary[@]}" --payload "$payload" \
        --query '[StatusCode, FunctionError]' --output text "$out")
    read -r status error <<<"$meta"
    python3 - "$out" <<'EOF'
import json, sys
raw = open(sys.argv[1], "rb").read()
try:
    print(json.dumps(json.loads(raw), indent=2, ensure_ascii=False))
except ValueError:
    print(raw.decode("utf-8", "replace"))
EOF
    if [[ -n $error && $error != None ]]; then
        die "the invocation ended in a function error ($error, status $status)"
    fi
    if python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if isinstance(d, dict) and d.get("success") is False else 1)' "$out" 2>/dev/null; then
        die "the function answered success: false (see errors above)"
    fi
    say "done (status $status)"
}

# Writes the secret's JSON ({"email","password","totp_secret","vaults":{…}}) to the 0600 file $1
# from CREDENTIALS_FILE and the OBSIDIAN_* variables (a variable wins over the file's field);
# prints the names of the fields stored, or nothing when there are none. Never prints a value.
build_credentials() {
    python3 - "$1" <<'EOF'
import json, os, sys
path = sys.argv[1]
doc = {}
source = os.environ.get("CREDENTIALS_FILE")
if source:
    try:
        with open(source, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as error:
        sys.exit(f"deploy: error: CREDENTIALS_FILE {source}: {type(error).__name__}")
    if not isinstance(doc, dict) or set(doc) - {"email", "password", "totp_secret", "vaults"}:
        sys.exit("deploy: error: CREDENTIALS_FILE must be an object with email, password, totp_secret, vaults")
for field, variable in (("email", "OBSIDIAN_EMAIL"), ("password", "OBSIDIAN_PASSWORD"),
                        ("totp_secret", "OBSIDIAN_TOTP_SECRET")):
    if os.environ.get(variable):
        doc[field] = os.environ[variable]
if os.environ.get("OBSIDIAN_VAULT_PASSWORD"):
    vault = os.environ.get("OBSIDIAN_VAULT")
    if not vault:
        sys.exit("deploy: error: OBSIDIAN_VAULT_PASSWORD needs OBSIDIAN_VAULT (the vault's name or id): "
                 "the secret keeps vault passwords per vault")
    doc.setdefault("vaults", {})[vault] = {"password": os.environ["OBSIDIAN_VAULT_PASSWORD"]}
# An empty field is left out rather than stored empty.
doc = {k: v for k, v in doc.items() if v not in ("", None, {})}
if doc and not (doc.get("email") and doc.get("password")):
    # The secret is replaced as a whole: a vault password alone would erase the sign-in.
    sys.exit("deploy: error: the secret is replaced as a whole: give OBSIDIAN_EMAIL and "
             "OBSIDIAN_PASSWORD (or a CREDENTIALS_FILE with both) with any other credential")
if doc:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    print(", ".join(sorted(doc)))
EOF
}

deploy_infrastructure() {
    # Key=Value words, with the shell's quotes: "'ScheduleExpression=rate(1 hour)' MemorySize=1024".
    local word existing_secret="" words=()
    if [[ -n ${PARAMETER_OVERRIDES:-} ]]; then
        local parsed
        parsed=$(xargs -n1 printf '%s\n' <<<"$PARAMETER_OVERRIDES" 2>/dev/null) ||
            die "PARAMETER_OVERRIDES has unbalanced quotes"
        mapfile -t words <<<"$parsed"
    fi
    for word in "${words[@]}"; do
        case "${word%%=*}" in
        ObsidianEmail | ObsidianPassword | ObsidianTotpSecret | VaultPassword)
            die "${word%%=*} in PARAMETER_OVERRIDES would put a credential on a command line: use OBSIDIAN_* or CREDENTIALS_FILE"
            ;;
        ExistingSecretArn) existing_secret=${word#*=} ;;
        esac
    done
    [[ -f $TEMPLATE ]] || die "$TEMPLATE does not exist"
    check_zip

    # Credentials first, so that a bad CREDENTIALS_FILE stops before anything is deployed.
    local creds fields
    scratch=$(mktemp -d -t obsync-deploy-XXXXXX)
    trap 'rm -rf "$scratch"' EXIT
    chmod 700 "$scratch"
    creds=$scratch/credentials.json
    fields=$(build_credentials "$creds")
    # The AWS CLI processes below need none of them (ps e would show a child's environment).
    unset OBSIDIAN_EMAIL OBSIDIAN_PASSWORD OBSIDIAN_TOTP_SECRET OBSIDIAN_VAULT_PASSWORD

    # The contract with template.yaml: CodeUri build/lambda/function.zip, next to the template.
    local code_dir
    code_dir=$(dirname "$TEMPLATE")/build/lambda
    mkdir -p "$code_dir"
    if [[ $(realpath "$LAMBDA_ZIP") != $(realpath -m "$code_dir/function.zip") ]]; then
        run cp "$LAMBDA_ZIP" "$code_dir/function.zip"
    fi
    local overrides=(Architecture="$LAMBDA_ARCH" "${words[@]}")
    local capabilities=(CAPABILITY_IAM CAPABILITY_AUTO_EXPAND)

    # sam deploy only with the plain CLI: it would not see the options carried in AWS (a
    # --profile: another account) nor the endpoint of AWS_ENDPOINT_URL.
    if command -v sam >/dev/null && [[ ${#aws[@]} -eq 1 && -z ${AWS_ENDPOINT_URL:-} ]]; then
        local s3=(--resolve-s3) sam_overrides=() pair value
        [[ -z ${LAMBDA_ARTIFACT_BUCKET:-} ]] || s3=(--s3-bucket "$LAMBDA_ARTIFACT_BUCKET")
        # sam parses Key=Value up to the first blank: give it Key="value", quotes escaped.
        for pair in "${overrides[@]}"; do
            value=${pair#*=}
            value=${value//\\/\\\\}
            value=${value//\"/\\\"}
            sam_overrides+=("${pair%%=*}=\"$value\"")
        done
        run sam deploy --template-file "$TEMPLATE" --stack-name "$STACK_NAME" --region "$region" \
            "${s3[@]}" --s3-prefix "$STACK_NAME" --capabilities "${capabilities[@]}" \
            --parameter-overrides "${sam_overrides[@]}" --no-fail-on-empty-changeset --no-confirm-changeset
    else
        say "aws cloudformation package + deploy (sam is used only when present, with a plain AWS=aws and no AWS_ENDPOINT_URL)"
        local bucket=${LAMBDA_ARTIFACT_BUCKET:-} account head
        account=$(awsq sts get-caller-identity --query Account --output text)
        [[ -n $bucket ]] || bucket=obsync-artifacts-$account-$region
        # The name is predictable: a bucket of that name owned by another account must not
        # receive the code (it could swap it before CloudFormation reads it).
        if head=$(awsq s3api head-bucket --bucket "$bucket" --expected-bucket-owner "$account" 2>&1); then
            :
        elif [[ $head == *"Not Found"* || $head == *"404"* || $head == *NoSuchBucket* ]]; then
            say "creating the artifact bucket $bucket"
            if [[ $region == us-east-1 ]]; then
                awsr s3api create-bucket --bucket "$bucket" >/dev/null
            else
                awsr s3api create-bucket --bucket "$bucket" \
                    --create-bucket-configuration "LocationConstraint=$region" >/dev/null
            fi
            awsr s3api put-public-access-block --bucket "$bucket" --public-access-block-configuration \
                BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
        else
            die "the artifact bucket $bucket exists but is not this account's ($account), or cannot be read: $head (set LAMBDA_ARTIFACT_BUCKET to a bucket of yours)"
        fi
        awsr cloudformation package --template-file "$TEMPLATE" --s3-bucket "$bucket" \
            --s3-prefix "$STACK_NAME" --output-template-file "$scratch/packaged.yaml" >/dev/null
        awsr cloudformation deploy --template-file "$scratch/packaged.yaml" --stack-name "$STACK_NAME" \
            --capabilities "${capabilities[@]}" --parameter-overrides "${overrides[@]}" \
            --no-fail-on-empty-changeset
    fi

    local secret_arn
    secret_arn=$(stack_output SecretArn)
    if [[ -z $secret_arn && -n $existing_secret ]]; then
        say "stack $STACK_NAME has no SecretArn output: using ExistingSecretArn"
        secret_arn=$existing_secret
    fi
    if [[ -n $fields ]]; then
        [[ -n $secret_arn ]] || die "stack $STACK_NAME has no SecretArn output: the credentials were not stored"
        say "storing the credentials ($fields) in $secret_arn"
        local version
        version=$(awsr secretsmanager put-secret-value --secret-id "$secret_arn" \
            --secret-string "file://$creds" --query VersionId --output text)
        say "secret version $version (a warm function reads it again within 5 minutes)"
    elif [[ -n $secret_arn ]]; then
        say "no OBSIDIAN_* variable nor CREDENTIALS_FILE: the secret $secret_arn was left as it is"
    else
        say "no credentials given, and stack $STACK_NAME has no SecretArn output"
    fi
    rm -f "$creds"

    say "outputs of stack $STACK_NAME:"
    awsq cloudformation describe-stacks --stack-name "$STACK_NAME" \
        --query 'Stacks[0].Outputs[].[OutputKey, OutputValue]' --output text >&2 || true
    local key_id
    key_id=$(stack_output ApiKeyId)
    if [[ -n $key_id ]]; then
        say "the API key's value: ${aws[*]} apigateway get-api-key --region $region --api-key $key_id --include-value --query value --output text"
    fi
}

case "${1:-}" in
deploy-lambda) deploy_lambda ;;
deploy-infrastructure) deploy_infrastructure ;;
invoke-lambda) invoke_lambda ;;
*) die "usage: $0 deploy-lambda | deploy-infrastructure | invoke-lambda" ;;
esac
