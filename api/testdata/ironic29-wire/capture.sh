#!/bin/bash
# Capture one exchange with a running Ironic 29 (../../../../shared/peers/ironic-modern, API 1.1-1.96) in the
# format of testdata/ironic-wire: a first line "### METHOD PATH -H K: V ... -d BODY", then the raw HTTP answer.
#   IRONIC=http://127.0.0.1:6387 bash capture.sh NAME METHOD PATH [-H 'K: V']... [-d BODY]
# writes NAME.txt here. The golden tests replay the request against ferric and compare (api/golden29_test.go).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
name=$1 method=$2 path=$3; shift 3
base=${IRONIC:-http://127.0.0.1:6387}
line="### $method $path" args=()
while [ $# -gt 0 ]; do
  case $1 in
    -H) line+=" -H $2"; args+=(-H "$2"); shift 2 ;;
    -d) line+=" -d $2"; args+=(--data-binary "$2"); shift 2 ;;
    *) echo "capture.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
{ echo "$line"; curl -si -m 60 -X "$method" "${args[@]}" "$base$path"; echo; } > "$here/$name.txt"
head -2 "$here/$name.txt" | tail -1
