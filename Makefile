# privacykeeper - see README.md. `make dev` runs the stack locally, `make test`
# runs every test. Both install what they need into .tools/ on first use.

SHELL := /bin/bash
.DEFAULT_GOAL := help

TOOLS       := $(CURDIR)/.tools
RIE         := $(TOOLS)/bin/aws-lambda-rie
STATICCHECK := $(TOOLS)/bin/staticcheck
NODE_TOOLS  := $(TOOLS)/node/node_modules/.installed

RIE_VERSION         := v0.0.0-20261030222936-bef5c4ba774d
STATICCHECK_VERSION := v0.8.2

# Functions are built for the architecture the template names (arm64).
GOARCH_LAMBDA := $(shell sed -n 's/^ *Architectures: *\[ *\([a-z0-9_]*\) *\].*/\1/p' template.yaml | head -n 1 | sed 's/x86_64/amd64/')
FUNCTIONS     := $(notdir $(wildcard functions/*))
DIST          := .local/dist

# Ports: make dev and make test use different ones so both can run at once.
DEV_DDB_PORT  ?= 8000
DEV_SES_PORT  ?= 8005
TEST_DDB_PORT ?= 18000
TEST_SES_PORT ?= 18005

.PHONY: help tools build dev test test-unit lint load bench clean sweep fuzz

help:
	@echo "make dev    - run the whole stack locally: API on http://localhost:3000, SES inbox on http://localhost:$(DEV_SES_PORT)"
	@echo "make test   - lint, unit, integration and end-to-end tests against DynamoDB Local and the SES emulator"
	@echo "make build  - build every function's bootstrap for Lambda (linux/$(GOARCH_LAMBDA)) into $(DIST)/"
	@echo "make lint   - gofmt, go vet, staticcheck, cfn-lint"
	@echo "make load   - the load test at full size (LOAD_N submissions, default 10000; make test runs 1000)"
	@echo "make bench  - benchmarks, as ratios against a floor measured in the same run (BENCH_QUICK=1: every one small, as make test runs it)"
	@echo "make fuzz   - run every fuzz target for FUZZTIME each (default 15s)"
	@echo "make sweep  - run the retention sweep now against the running make dev stack (DRY=1: report only)"
	@echo "make clean  - remove builds and local data (keeps installed tools)"

## ----------------------------------------------------------------- tools
# What make dev needs; the browser tests' Chromium is make test's alone
# (chromium-check).
tools: $(RIE) $(NODE_TOOLS) java-check

$(RIE):
	GOBIN=$(TOOLS)/bin go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

$(STATICCHECK):
	GOBIN=$(TOOLS)/bin go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(NODE_TOOLS): infra/tools/package.json infra/tools/package-lock.json
	@command -v node >/dev/null || { echo "Node.js 20+ is required (it runs the SES emulator)"; exit 1; }
	mkdir -p $(TOOLS)/node
	cp infra/tools/package.json infra/tools/package-lock.json $(TOOLS)/node/
	cd $(TOOLS)/node && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# DynamoDB Local needs Java 17+. Install it from the distribution when missing.
.PHONY: java-check
java-check:
	@if ! java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])'; then \
	  echo "Java 17+ not found; installing openjdk-17-jre-headless"; \
	  if command -v apt-get >/dev/null; then (apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless) ; \
	  else echo "install Java 17+ and retry"; exit 1; fi; \
	fi

# The browser tests drive Chromium: PK_CHROMIUM when set (the tests use it
# too), else Debian's (package chromium). Install that when missing and we
# can (root with apt-get); else say what to do.
.PHONY: chromium-check
chromium-check:
	@if [ -n "$$PK_CHROMIUM" ]; then \
	  [ -x "$$PK_CHROMIUM" ] || command -v "$$PK_CHROMIUM" >/dev/null || { echo "PK_CHROMIUM=$$PK_CHROMIUM is not a program"; exit 1; }; \
	elif ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then \
	  echo "Chromium not found; installing the chromium package"; \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium); \
	  else echo "install Chromium (Debian: apt-get install chromium) or set PK_CHROMIUM, and retry"; exit 1; fi; \
	fi

## ----------------------------------------------------------------- build
# One function as Lambda runs it: linux on the template's architecture, no
# cgo, no RPC server (-tags lambda.norpc), stripped. $(1) is its folder
# under functions/, $(2) the bootstrap to write.
lambda_build = CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH_LAMBDA) go build -tags lambda.norpc -trimpath \
	-ldflags "-s -w" -o $(2) ./functions/$(1)

build:
	@for fn in $(FUNCTIONS); do \
	  echo "build $$fn (linux/$(GOARCH_LAMBDA))"; \
	  $(call lambda_build,$$fn,$(DIST)/$$fn/bootstrap) || exit 1; \
	done
	@ls -l $(DIST)/*/bootstrap | awk '{printf "%10d  %s\n", $$5, $$9}'

# sam build (each function's Metadata BuildMethod: makefile) runs
# build-<LogicalId> here, with ARTIFACTS_DIR set to where the bootstrap
# goes. LogicalId:folder, one per function of template.yaml
# (infra/template TestSamBuildsAsMakeBuild holds the two together).
SAM_FUNCTIONS := CallbackFunction:callbacks CampaignFunction:campaign CampaignSenderFunction:campaignsender \
	ConsoleAuthFunction:consoleauth DeadlineWatchFunction:deadlines FeedbackFunction:feedback FormsFunction:forms \
	LedgerRootsFunction:ledgerroots LedgerSignerFunction:ledgersigner \
	MailerFunction:mailer NoticesFunction:notices OpenDSRFunction:opendsr OpenDSRWorkerFunction:opendsrworker \
	OperatorFunction:operator PreferencesFunction:preferences RecipientsFunction:recipients RightsFunction:rights \
	SweepFunction:sweep UnsubscribeMailFunction:unsubscribemail
sam_id = $(word 1,$(subst :, ,$(1)))
sam_dir = $(word 2,$(subst :, ,$(1)))
$(foreach f,$(SAM_FUNCTIONS),$(eval build-$(call sam_id,$(f)): ; $$(call lambda_build,$(call sam_dir,$(f)),$$(ARTIFACTS_DIR)/bootstrap)))

## ------------------------------------------------------------------- dev
dev: tools
	@infra/dev.sh $(DEV_DDB_PORT) $(DEV_SES_PORT)

## ------------------------------------------------------------------ test
# Each lint step is a target of its own: make lint runs them at once, each
# one's output printed whole when it ends; make test runs them beside the
# tests.
LINT_STEPS := lint-gofmt lint-vet lint-staticcheck lint-tidy lint-cfn
.PHONY: test-go $(LINT_STEPS)
lint: $(STATICCHECK)
	@$(MAKE) --no-print-directory -j $(words $(LINT_STEPS)) --output-sync=target $(LINT_STEPS)

lint-gofmt:
	@echo "gofmt"; out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go' -not -path './.tools/*')); \
	  if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
lint-vet:
	go vet ./...
lint-staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...
lint-tidy:
	@echo "go mod tidy -diff"; go mod tidy -diff
lint-cfn:
	@if command -v cfn-lint >/dev/null; then echo "cfn-lint template.yaml"; cfn-lint template.yaml; \
	  else echo "cfn-lint is not installed (pip install cfn-lint); template not linted"; exit 1; fi

test-unit:
	go test -count=1 -short ./...

# make test runs the lint steps, the tests and the fuzzing at once (each
# one's output printed whole when it ends): the tests mostly wait on their
# stacks, DynamoDB Local and the emulators, and lint (mostly cfn-lint's
# Python, ~35 s) and the fuzzing (~75 s, 24 s of CPU) fit in those waits.
# A failure in any of them fails make test, once all have ended.
# A failure ends with the names of what failed (go test's own output is
# long: CI keeps only its tail).
test: tools chromium-check $(STATICCHECK)
	@mkdir -p .local/test; set -o pipefail; \
	  $(MAKE) --no-print-directory -j $(words $(LINT_STEPS) test-go fuzz) --output-sync=target \
	  FUZZTIME=$(CI_FUZZTIME) $(LINT_STEPS) test-go fuzz 2>&1 | tee .local/test/make-test.log || { \
	  echo "make test failed; what failed:"; \
	  grep -hE -- '^make.*\*\*\*|would change|^[[:space:]]*--- FAIL|^FAIL|^panic:|^[[:space:]]*[a-z_0-9]+_test\.go:[0-9]+: ' \
	    .local/test/make-test.log | grep -v 'Waiting for unfinished' | head -60; \
	  exit 1; }

# -parallel 4: the end-to-end tests mostly wait on their stacks (at the
# default of 2 on 2 cores the machine sat a third busy); 4 took the e2e
# package from 269 s to 202 s. 8 did not help (2026-12-07, 54 e2e tests at
# load 18-25: 137 s against 120 s at 4). -p 4: four packages at once, not
# two, so that the others do not queue behind infra/e2e and infra/bench
# (every package but those two: 241 s against 305 s at -p 2, the same CPU).
test-go:
	@infra/with-services.sh .local/test $(TEST_DDB_PORT) $(TEST_SES_PORT) -- \
	  go test -count=1 -p 4 -parallel 4 -timeout 25m ./...

LOAD_N ?= 10000
load: tools
	@infra/with-services.sh .local/load $(TEST_DDB_PORT) $(TEST_SES_PORT) -- \
	  env PK_LOAD_N=$(LOAD_N) go test -count=1 -timeout 30m -run '^TestLoadNothingLostOrDuplicated$$' -v ./infra/e2e

# The bench's runs are long: DynamoDB Local with the JVM's own defaults
# (its optimising compiler pays for itself there; make test's and make
# dev's use the client compiler alone: infra/services.sh).
bench: tools
	@DYNAMODB_JAVA_OPTS=-Xmx1g infra/with-services.sh .local/bench $(TEST_DDB_PORT) $(TEST_SES_PORT) -- \
	  go run ./infra/bench

FUZZTIME ?= 15s
# make test fuzzes every target too, for a fixed number of inputs (not a
# time, so a busy machine does the same work); the seed corpora in
# testdata/fuzz run with every go test anyway.
CI_FUZZTIME ?= 3000x
FUZZ_TARGETS := shared/privacy:FuzzParseContact shared/privacy:FuzzParseSignup shared/privacy:FuzzParseRightsRequest \
	shared/httpapi:FuzzDecodeInput shared/token:FuzzCheck shared/token:FuzzCheckMailbox shared/sns:FuzzMessage shared/feedback:FuzzParse \
	shared/opendsr:FuzzParse
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$fn ($(FUZZTIME))"; \
	  go test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) ./$$pkg || exit 1; \
	done

sweep:
	@curl -sS -X POST http://localhost:3000/_local/invoke/SweepFunction \
	  -d '{"dry_run": $(if $(DRY),true,false)}' && echo

clean:
	rm -rf .local .aws-sam
