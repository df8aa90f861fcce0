# Obsync's front door. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
.DEFAULT_GOAL := build

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD_DIR ?= build-san
CMAKE_FLAGS += -DOBSYNC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
else
BUILD_DIR ?= build
CMAKE_FLAGS += -DCMAKE_BUILD_TYPE=RelWithDebInfo
endif

JOBS ?= $(shell nproc)
CTEST_FLAGS ?= --output-on-failure --timeout 600

.PHONY: deps configure build test test-unit test-interop demo bench format format-check check-standalone tidy clean \
	deploy-lambda deploy-infrastructure invoke-lambda test-lambda-local

# The Lambda deployment (docs/deployment-local.md). Credentials come from the environment only
# (OBSIDIAN_EMAIL, OBSIDIAN_PASSWORD, OBSIDIAN_TOTP_SECRET, OBSIDIAN_VAULT_PASSWORD + OBSIDIAN_VAULT,
# or CREDENTIALS_FILE): never put them on make's command line.
LAMBDA_FUNCTION_NAME ?=
LAMBDA_REGION ?=
LAMBDA_ARCH ?= arm64
STACK_NAME ?= obsync
AWS ?= aws
DEPLOY = LAMBDA_FUNCTION_NAME='$(LAMBDA_FUNCTION_NAME)' LAMBDA_REGION='$(LAMBDA_REGION)' \
	LAMBDA_ARCH='$(LAMBDA_ARCH)' STACK_NAME='$(STACK_NAME)' AWS='$(AWS)' scripts/deploy.sh

## Install every Debian package the build, tests and benchmarks need (idempotent).
deps:
	@scripts/deps.sh

configure:
	@cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS) >/dev/null

## Build everything into build/ (build-san/ with SANITIZE=1).
build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

## Everything: formatting and standalone checks, the full suite, then the unit tests again under
## ASan+UBSan.
test: deps format-check check-standalone
	@$(MAKE) --no-print-directory build
	@ctest --test-dir $(BUILD_DIR) $(CTEST_FLAGS) -j $(JOBS)
ifneq ($(SANITIZE),1)
	@$(MAKE) --no-print-directory SANITIZE=1 test-unit
endif

## Unit tests only (label "unit"; builds only what they need).
test-unit: deps configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target unit_tests
	@ctest --test-dir $(BUILD_DIR) $(CTEST_FLAGS) -j $(JOBS) -L unit

## The official Obsidian client against our test server (label "interop"; installs it first).
test-interop: deps build
	@ctest --test-dir $(BUILD_DIR) $(CTEST_FLAGS) -L interop

## A real sync of the bundled sample vault against the bundled test server, into ./demo-vault.
demo: deps build
	@scripts/demo.sh $(BUILD_DIR)

## Build and run the benchmarks (see docs/performance.md).
bench: deps build
	@bench/run_crypto_bench.sh $(BUILD_DIR)
	@bench/run_lambda_bench.sh $(BUILD_DIR)

## Upload build/lambda/obsync-lambda-$(LAMBDA_ARCH).zip as the code of LAMBDA_FUNCTION_NAME (default:
## the stack's function) in LAMBDA_REGION.
deploy-lambda:
	@$(DEPLOY) deploy-lambda

## Deploy template.yaml as STACK_NAME (sam deploy, else aws cloudformation package + deploy), then
## store the credentials from the environment in the stack's secret.
deploy-infrastructure:
	@$(DEPLOY) deploy-infrastructure

## One incremental run of the deployed function; prints the response, fails on a function error.
invoke-lambda:
	@$(DEPLOY) invoke-lambda

## The function behind a local API (no Docker): fake Obsidian server, moto, the Runtime API
## emulator and POST /sync with an API key; prints a curl line. LAMBDA_LOCAL_FUNCTION picks the code.
test-lambda-local: deps configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target obsync-lambda obsync-fake-server obsync
	@python3 -B scripts/lambda_local.py --build $(BUILD_DIR) $(if $(LAMBDA_LOCAL_FUNCTION),--function '$(LAMBDA_LOCAL_FUNCTION)')

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

## Fails if any file is not clang-formatted (`make format` fixes it).
format-check:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror

## Fails if a tracked file (docs aside) refers to the folder beside the checkout.
check-standalone:
	@scripts/check_standalone.sh

## clang-tidy over src/ and tools/ with the root .clang-tidy (warnings are errors).
tidy: configure
	@git ls-files 'src/*.cpp' 'tools/*.cpp' | xargs clang-tidy -p $(BUILD_DIR) --quiet 2>&1 | grep -v "warnings generated" ; test $${PIPESTATUS[1]} -eq 0

clean:
	@rm -rf build build-san
