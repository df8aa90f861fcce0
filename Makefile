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

# The Lambda packages (docs/lambda.md, "Package"): one CMake tree per architecture,
# build-lambda-<arch>/ (beside build/, at the same depth, so that ccache with a base_dir sees the
# same compile commands and the x86_64 tree reuses build/'s objects), linked statically but for
# glibc, then bundled by scripts/package_lambda.py into build/lambda/obsync-lambda-<arch>.zip.
LAMBDA_ARCHS ?= x86_64 arm64
LAMBDA_DIR := build/lambda
LAMBDA_CMAKE_FLAGS := -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOBSYNC_LAMBDA_PACKAGE=ON \
	-DOBSYNC_BUILD_TESTS=OFF -DOBSYNC_BUILD_BENCH=OFF
LAMBDA_CMAKE_FLAGS_arm64 := -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/aarch64-linux-gnu.cmake

.PHONY: deps configure build build-lambda test test-unit test-interop demo bench format format-check check-standalone tidy clean \
	deploy-lambda deploy-infrastructure invoke-lambda test-lambda-local

# The Lambda deployment (docs/deployment.md). Credentials come from the environment only
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

## The Lambda packages build/lambda/obsync-lambda-<arch>.zip for LAMBDA_ARCHS (x86_64 arm64).
build-lambda: deps
	@set -e; for arch in $(LAMBDA_ARCHS); do \
		case $$arch in x86_64) extra="";; arm64) extra="$(LAMBDA_CMAKE_FLAGS_arm64)";; \
			*) echo "build-lambda: unknown architecture $$arch (x86_64, arm64)" >&2; exit 1;; esac; \
		cmake -S . -B build-lambda-$$arch $(LAMBDA_CMAKE_FLAGS) $$extra >/dev/null; \
		cmake --build build-lambda-$$arch -j $(JOBS) --target obsync-lambda; \
		mkdir -p $(LAMBDA_DIR); \
		python3 scripts/package_lambda.py --arch $$arch --binary build-lambda-$$arch/obsync-lambda \
			--out $(LAMBDA_DIR)/obsync-lambda-$$arch.zip; \
	done

## Everything: formatting and standalone checks, the full suite (the Lambda packages' empty-root
## tests included), then the unit tests again under ASan+UBSan.
test: deps format-check check-standalone
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory build-lambda
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
	@bench/run_verify_bench.sh $(BUILD_DIR)
	@bench/run_lambda_bench.sh $(BUILD_DIR)
	@bench/run_scale_bench.sh $(BUILD_DIR)
	@bench/run_restore_bench.sh --build-dir $(BUILD_DIR)
	@bench/run_encrypted_bench.sh --build-dir $(BUILD_DIR)

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
	@$(MAKE) --no-print-directory build-lambda LAMBDA_ARCHS=x86_64
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
	@rm -rf build build-san build-lambda-x86_64 build-lambda-arm64
