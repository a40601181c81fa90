#!/usr/bin/env bash
# One-off helper for the crate split (issue 13): moves an api module into crates/services/<dir>
# and rewrites the paths it used through the old god object. Usage: move-service.sh <module> <dir> <Type>
set -euo pipefail
mod=$1 dir=$2 ty=$3
cd "$(dirname "$0")/../.."
dst=crates/services/$dir
mkdir -p "$dst/src"
if [ -d crates/api/src/$mod ]; then
  for f in crates/api/src/$mod/*.rs; do git mv "$f" "$dst/src/"; done
  rmdir crates/api/src/$mod
fi
git mv crates/api/src/$mod.rs "$dst/src/lib.rs"
for f in "$dst"/src/*.rs; do
  sed -i -E "s/crate::protocol\b/tributary_service::json/g; s/crate::query\b/tributary_service::query/g; \
    s/crate::percent_decode/tributary_service::percent_decode/g; s/crate::parse_query/tributary_service::parse_query/g; \
    s/use crate::\{App, Config\};/use crate::$ty;\nuse tributary_service::Config;/; s/crate::Config\b/tributary_service::Config/g; \
    s/&Arc<App>/\&$ty/g; s/\bApp\b/$ty/g" "$f"
done
