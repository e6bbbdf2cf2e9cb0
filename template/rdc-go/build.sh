#!/bin/sh
# Builds the function in the current folder, laid out as the Dockerfile lays it:
#   main.go  build.sh  shared/  functions/handler/ (the function's own module)
# The entrypoint module is generated here because each function has its own
# module path; the function's go.mod replaces shared with ../../shared, which
# resolves in the checkout (functions/<name>) and here (functions/handler) alike.
set -eu
fn=$(awk '$1 == "module" { print $2; exit }' functions/handler/go.mod)
[ -n "$fn" ] || { echo "build.sh: functions/handler/go.mod has no module line" >&2; exit 1; }
cat > go.mod <<MOD
module handler

go 1.26

require $fn v0.0.0

replace $fn => ./functions/handler

replace github.com/rdc-interop/faas/shared => ./shared
MOD
cp functions/handler/go.sum go.sum
sed -i "s#@FUNCTION_MODULE@#$fn#" main.go
GOWORK=off GOFLAGS=-mod=mod go mod tidy
GOWORK=off go build -trimpath -ldflags="-s -w" -o handler .
