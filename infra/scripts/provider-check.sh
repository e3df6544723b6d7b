#!/usr/bin/env bash
# Fails when a shared crate outside the app folders names an app. Apps live in
# shared/connectors/<app>/ (and the list of them in shared/connectors/src/); the composition
# roots (functions/*, infra/*, tests/) may name them. Comments may name an app as an example;
# code, string literals and [dependencies] may not.
set -euo pipefail
cd "$(dirname "$0")/../.."

apps='\b(hubspot|xero|salesforce|shopify|quickbooks|intuit|syspro|sage)\b'
names='(^|[^a-z0-9_])(hubspot|xero|salesforce|shopify|quickbooks|intuit|syspro|sage)([^a-z0-9_]|$)'
status=0
for crate in shared/*/; do
    case "$crate" in shared/connectors/) continue ;; esac
    # Source lines that are not comments, outside test code (test files, and everything after
    # a file's `#[cfg(test)]`: test data may carry any provider name).
    hits=$(find "$crate/src" -name '*.rs' ! -name 'tests.rs' ! -name '*_tests.rs' -print0 \
        | xargs -0 awk -v re="$names" '
            /^#\[cfg\(test\)\]/ { nextfile }
            /^[[:space:]]*(\/\/|\*|\/\*)/ { next }
            tolower($0) ~ re { print FILENAME ":" FNR ": " $0 }' || true)
    # Normal dependencies (dev-dependencies may use an app to test against).
    deps=$(sed -n '/^\[dependencies\]/,/^\[/p' "$crate/Cargo.toml" | grep -niE "$apps" || true)
    if [[ -n "$hits$deps" ]]; then
        echo "error: ${crate%/} names an app (move the code to shared/connectors/<app>/):" >&2
        [[ -n "$hits" ]] && echo "$hits" | head -20 >&2
        [[ -n "$deps" ]] && echo "  Cargo.toml [dependencies]: $deps" >&2
        status=1
    fi
done
if [[ $status -eq 0 ]]; then
    echo "provider check: no shared crate outside shared/connectors names an app"
fi
exit $status
