#!/usr/bin/env bash
# Checks that every C++ source of ours (*.h, *.cc under core eventstore projections adapters
# examples tests) is formatted as .clang-format says, with clang-format 14. Lists the files that
# differ and exits 1 if there are any.
#   scripts/check-format.sh          check
#   scripts/check-format.sh --fix    reformat those files in place instead
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fix=0
case "${1:-}" in
  "") ;;
  --fix) fix=1 ;;
  *) echo "usage: $0 [--fix]" >&2; exit 2 ;;
esac

clang_format=""
for candidate in clang-format-14 clang-format; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" --version | grep -q 'version 14\.'; then
    clang_format=$candidate
    break
  fi
done
if [[ -z "$clang_format" ]]; then
  echo "check-format: clang-format 14 not found (run scripts/setup.sh)" >&2
  exit 1
fi

dirs=()
for dir in core eventstore projections adapters examples tests; do
  [[ -d "$dir" ]] && dirs+=("$dir")
done
files=()
if [[ ${#dirs[@]} -gt 0 ]]; then
  mapfile -d '' files < <(find "${dirs[@]}" -type f \( -name '*.h' -o -name '*.cc' \) -print0 | sort -z)
fi

if [[ $fix -eq 1 ]]; then
  [[ ${#files[@]} -gt 0 ]] && "$clang_format" -i --style=file "${files[@]}"
  echo "check-format: formatted ${#files[@]} files"
  exit 0
fi

unformatted=()
for file in "${files[@]}"; do
  if ! "$clang_format" --style=file --dry-run --Werror "$file" >/dev/null 2>&1; then
    unformatted+=("$file")
  fi
done

if [[ ${#unformatted[@]} -gt 0 ]]; then
  echo "check-format: ${#unformatted[@]} of ${#files[@]} files are not formatted ($clang_format):" >&2
  printf '  %s\n' "${unformatted[@]}" >&2
  echo "check-format: see the diff with: $clang_format --style=file FILE | diff -u FILE -" >&2
  echo "check-format: fix with: $clang_format -i --style=file FILE  (or $0 --fix)" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files formatted as .clang-format says"
