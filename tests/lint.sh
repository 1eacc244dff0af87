#!/bin/sh
# The style checks, one word each; tests/run --all runs each as a case
# (CI), `make lint` all of them.
#
#   tests/lint.sh format   C as .clang-format says (make format fixes it)
#   tests/lint.sh shell    shellcheck over every shell script (by shebang)
#   tests/lint.sh python   pyflakes over every Python file (by shebang)
#   tests/lint.sh all      the three
set -eu
cd "$(dirname "$0")/.."

# Tracked files whose first line runs an interpreter matching $1.
by_shebang() {
	git ls-files | while read -r f; do
		[ -f "$f" ] && head -n1 "$f" | grep -qE "^#!.*($1)" && echo "$f"
	done
	return 0
}

case "${1:-all}" in
format)	make -s format-check ;;
shell)	# One argument per file: the names have no spaces.
	# shellcheck disable=SC2046
	shellcheck -x $(by_shebang '/sh|bash') ;;
python)	# shellcheck disable=SC2046
	pyflakes3 $(by_shebang python) $(git ls-files '*.py') ;;
all)	for c in format shell python; do "$0" "$c"; done ;;
*)	echo "tests/lint.sh: format, shell, python or all, not '$1'" >&2; exit 2 ;;
esac
