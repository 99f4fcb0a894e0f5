#!/usr/bin/env bash
# The nightly capacity audit: analyse tonight's dump(s), keep the JSON report by date, diff it
# with the last one, check the budget rules, and write textfiles for node_exporter.
#
# usage: contrib/nightly-audit.sh --dump FILE [--dump FILE...] --reports DIR [options] [-- ARGS]
#   --dump FILE       tonight's snapshot (repeatable: the shards of one instance or cluster)
#   --reports DIR     where reports are kept: DIR/NAME-YYYY-MM-DD.json and
#                     DIR/NAME-YYYY-MM-DD.diff.json (created if absent)
#   --name NAME       the instance's name in file names and the `redis` label (default: redis)
#   --rules FILE      a TOML rules file for `rdbscope check` (docs/audit.md)
#   --textfile-dir D  write D/rdbscope-NAME.prom (report, diff, projection) and, with --rules,
#                     D/rdbscope-NAME-rules.prom, for node_exporter's textfile collector
#   --keep N          reports kept per name, oldest removed first (default 60)
#   --date YYYY-MM-DD the date in file names (default: today, UTC)
#   -- ARGS           passed to `rdbscope analyze` and `rdbscope diff` (e.g. --config
#                     maxmemory=8gb, --redis-conf /etc/redis/redis.conf, --rows 100)
# Environment: RDBSCOPE=path of the rdbscope binary (default: rdbscope on PATH).
# Exit: 0 ok; 3 a dump was damaged (the report is partial); 4 a budget rule failed (takes
# precedence over 3); 1 an error; 2 usage.
set -euo pipefail

die() { echo "nightly-audit: $*" >&2; exit "${2:-1}"; }
rdbscope=${RDBSCOPE:-rdbscope}
dumps=() reports="" name=redis rules="" textdir="" keep=60 day=""
while (($#)); do
  case $1 in
    --dump) dumps+=("${2:?--dump needs a file}"); shift 2 ;;
    --reports) reports=${2:?--reports needs a directory}; shift 2 ;;
    --name) name=${2:?--name needs a name}; shift 2 ;;
    --rules) rules=${2:?--rules needs a file}; shift 2 ;;
    --textfile-dir) textdir=${2:?--textfile-dir needs a directory}; shift 2 ;;
    --keep) keep=${2:?--keep needs a number}; shift 2 ;;
    --date) day=${2:?--date needs YYYY-MM-DD}; shift 2 ;;
    --) shift; break ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" 2 ;;
  esac
done
extra=("$@")
((${#dumps[@]})) || die "--dump is required" 2
[[ -n $reports ]] || die "--reports is required" 2
[[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || die "--name may hold letters, digits, '_', '.', '-'" 2
[[ $keep =~ ^[1-9][0-9]*$ ]] || die "--keep must be a positive number" 2
day=${day:-$(date -u +%F)}
[[ $day =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || die "--date must be YYYY-MM-DD" 2
mkdir -p "$reports"
[[ -z $textdir ]] || mkdir -p "$textdir"

today=$reports/$name-$day.json
prom=() rules_prom=()
if [[ -n $textdir ]]; then
  prom=(--prometheus "$textdir/rdbscope-$name.prom" --prometheus-label "redis=$name")
  rules_prom=(--prometheus "$textdir/rdbscope-$name-rules.prom" --prometheus-label "redis=$name")
fi

# The last report before today's, by the date in its name.
previous=""
for f in "$reports/$name"-????-??-??.json; do
  [[ -e $f && $f < $today ]] && previous=$f
done

status=0
note() { # keeps the most important exit code: 4 over 3 over 0
  local rc=$1
  if ((rc == 4)) || ((rc == 3 && status != 4)); then status=$rc; fi
}

# Tonight's report (with the textfile when there is nothing to diff against).
rc=0
if [[ -n $previous ]]; then
  "$rdbscope" analyze "${dumps[@]}" --quiet --json "$today" "${extra[@]}" >/dev/null || rc=$?
else
  "$rdbscope" analyze "${dumps[@]}" --quiet --json "$today" "${prom[@]}" "${extra[@]}" >/dev/null || rc=$?
fi
((rc == 0 || rc == 3)) || die "rdbscope analyze failed (exit $rc)" "$rc"
note "$rc"
echo "nightly-audit: report $today"

# What changed since the last one: from the two saved reports (no second read of a dump).
if [[ -n $previous ]]; then
  diff_json=$reports/$name-$day.diff.json
  rc=0
  "$rdbscope" diff "$previous" "$today" --json "$diff_json" "${prom[@]}" "${extra[@]}" || rc=$?
  ((rc == 0 || rc == 3)) || die "rdbscope diff failed (exit $rc)" "$rc"
  note "$rc"
  echo "nightly-audit: diff $diff_json (against $previous)"
fi

if [[ -n $rules ]]; then
  rc=0
  "$rdbscope" check "$today" --rules "$rules" "${rules_prom[@]}" || rc=$?
  ((rc == 0 || rc == 3 || rc == 4)) || die "rdbscope check failed (exit $rc)" "$rc"
  note "$rc"
fi

# Retention: the newest $keep reports (and their diffs) of this name.
mapfile -t all < <(ls -1 "$reports/$name"-????-??-??.json 2>/dev/null | sort)
while ((${#all[@]} > keep)); do
  rm -f -- "${all[0]}" "${all[0]%.json}.diff.json"
  all=("${all[@]:1}")
done
exit "$status"
