#!/usr/bin/env bash
# Fails when a tracked file reaches outside the checkout for the shared folder that sits beside
# it on the developers' machines. The project must build and test from a lone clone (.ci/run
# proves it); only the prose in docs/*.md and README.md may point readers at that folder.
set -euo pipefail
cd "$(dirname "$0")/.."

# Written as regexes so that this script does not match itself.
readonly pattern='\.\./shared([/"'"'"'[:space:]]|$)|/work/share[d]'

hits=$(git ls-files -z | grep -zv -e '^docs/[^/]*\.md$' -e '^README\.md$' |
    xargs -0 grep -nIE "$pattern" -- 2>/dev/null || true)
if [[ -n "$hits" ]]; then
    printf 'check_standalone: these tracked files refer to the folder beside the checkout:\n%s\n' "$hits" >&2
    printf 'check_standalone: keep what they need inside the project instead\n' >&2
    exit 1
fi
