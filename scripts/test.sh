#!/usr/bin/env bash
# test.sh: the one command that runs every check and test of a1.
# It starts PostgreSQL and Redis when they are missing (scripts/services.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

export A1_TEST_PG_URL=${A1_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
export A1_TEST_REDIS_URL=${A1_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
# The integration tests never skip when this is set: an unreachable server fails.
export A1_REQUIRE_SERVICES=${A1_REQUIRE_SERVICES:-1}

step() { printf '\n== %s\n' "$*"; }

step "services"
bash scripts/services.sh

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '^vendor/') 2>/dev/null || true)
if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi

step "go mod tidy"
# go.mod and go.sum must already be tidy (a missing sum fails a fresh clone).
go mod tidy -diff

step "go vet"
go vet ./...

step "staticcheck"
if ! command -v staticcheck >/dev/null 2>&1; then
  go install honnef.co/go/tools/cmd/staticcheck@latest
  export PATH="$(go env GOPATH)/bin:$PATH"
fi
staticcheck ./...

step "go test -race"
go test -race -count=1 -timeout 20m ./...

# Nested test-only modules (their dependencies stay out of the main module).
for mod in $(git ls-files '*/go.mod'); do
  dir=$(dirname "$mod")
  step "go test ($dir)"
  (cd "$dir" && go vet ./... && go test -count=1 -timeout 10m ./...)
done

step "README walkthrough against a real gateway"
bash scripts/walkthrough.sh

step "fuzz (short)"
if [ -f scripts/fuzz.sh ]; then bash scripts/fuzz.sh "${A1_FUZZTIME:-4s}"; fi

echo
echo "all checks passed"
