#!/usr/bin/env bash
# Side-by-side speed and memory of rdbscope against `cat` (the floor), the `rdb` crate's CLI
# (`rdb --format nil`, parse only) and redis-rdb-tools (`rdb -c memory`) on the benchmark dumps
# of issue 5. Every command is timed as a whole process, its file in the page cache.
#
# usage: benches/compare.sh [--dumps DIR] [--runs N] [--quick] [options]
#   --dumps DIR      where A.rdb, B.rdb, C.rdb (and M.rdb) are, or are generated with
#                    ../shared/tools/make-bench-dumps.sh when redis-server is on PATH
#                    (default $RDBSCOPE_BENCH_DUMPS, else ~/.cache/rdbscope/bench-dumps).
#                    Must be outside the repository.
#   --tools DIR      where the other tools are installed: DIR/bin/rdb (the rdb crate) and
#                    DIR/venv/bin/rdb (redis-rdb-tools); default $RDBSCOPE_BENCH_TOOLS, else
#                    ~/.cache/rdbscope/bench-tools. RDB_CRATE=path and RDBTOOLS=path override.
#   --runs N         runs per command, the median is reported (default 5)
#   --quick          one run over the small datasets M and R9 only: checks the set-up
#   --datasets LIST  comma-separated subset of A,B,C,M,R9 (default A,B,C,R9)
#   --rdb9 FILE      the RDB 9 dump redis-rdb-tools can read, dataset R9
#                    (default ../shared/corpus/redis-6.2.16/dump.rdb)
#   --write-doc      replace the section between <!-- compare:begin --> and
#                    <!-- compare:end --> in docs/performance.md (appended if absent)
#   --note TEXT      a sentence added to that section (e.g. what else ran on the machine)
# Environment: RDBSCOPE=path skips the release build; CARGO_TARGET_DIR is honoured;
# MAKE_BENCH_DUMPS=path to make-bench-dumps.sh.
#
# Besides wall time, each run records GNU time's peak RSS, which for a memory-mapped input
# includes the file pages the process touched, and polls /proc/PID/status every 50 ms for the
# largest RssAnon (memory of its own, "beyond the mapped file") and RssFile. Polling misses
# runs shorter than ~50 ms and peaks shorter than a sampling interval.
#
# The only file this script writes in the repository is docs/performance.md, with --write-doc.
set -euo pipefail

die() { echo "compare.sh: $*" >&2; exit 1; }
say() { echo "compare.sh: $*" >&2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/rdbscope
dumps=${RDBSCOPE_BENCH_DUMPS:-$cache/bench-dumps}
tools=${RDBSCOPE_BENCH_TOOLS:-$cache/bench-tools}
runs=""
quick=0
datasets=""
rdb9=$repo/../shared/corpus/redis-6.2.16/dump.rdb
write_doc=0
note=""

while (($#)); do
  case $1 in
    --dumps) dumps=${2:?--dumps needs a directory}; shift 2 ;;
    --tools) tools=${2:?--tools needs a directory}; shift 2 ;;
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --quick) quick=1; shift ;;
    --datasets) datasets=${2:?--datasets needs a list}; shift 2 ;;
    --rdb9) rdb9=${2:?--rdb9 needs a file}; shift 2 ;;
    --write-doc) write_doc=1; shift ;;
    --note) note=${2:?--note needs a text}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

if ((quick)); then
  runs=${runs:-1}
  datasets=${datasets:-M,R9}
  ((write_doc)) && die "--write-doc is refused with --quick: those numbers are a set-up check"
fi
runs=${runs:-5}
datasets=${datasets:-A,B,C,R9}
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
[[ -x /usr/bin/time ]] || die "needs GNU time as /usr/bin/time (apt-get install -y time)"
[[ -n ${EPOCHREALTIME:-} ]] || die "needs bash >= 5 (EPOCHREALTIME)"
IFS=, read -ra wanted <<<"$datasets"
for d in "${wanted[@]}"; do
  case $d in A | B | C | M | R9) ;; *) die "unknown dataset '$d' (A, B, C, M, R9)" ;; esac
done

dumps=$(realpath -m "$dumps")
case $dumps/ in "$repo"/*) die "--dumps $dumps is inside the repository; use a directory outside it" ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rdbscope-compare.XXXXXX")
nap_fd=""
cleanup() {
  [[ -n $nap_fd ]] && exec {nap_fd}>&-
  rm -rf "$tmp"
}
trap cleanup EXIT
# A sleep that forks nothing: read with a timeout on a pipe nobody writes to.
exec {nap_fd}<> <(:)
nap() { read -rt 0.05 -u "$nap_fd" _ || true; }

# ---- rdbscope ----------------------------------------------------------------------------
if [[ -n ${RDBSCOPE:-} ]]; then
  [[ -x $RDBSCOPE ]] || die "RDBSCOPE=$RDBSCOPE is not executable"
  rdbscope=$(realpath "$RDBSCOPE")
else
  say "building rdbscope (release)"
  (cd "$repo" && cargo build --release --quiet -p rdbscope)
  target=$(cd "$repo" && cargo metadata --no-deps --format-version 1 |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  rdbscope=${target:-$repo/target}/release/rdbscope
  [[ -x $rdbscope ]] || die "built, but no binary at $rdbscope"
fi
rdbscope_version="$("$rdbscope" --version) ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$repo" diff --quiet HEAD -- crates 2>/dev/null || echo ', modified'))"
has_analyze=0
"$rdbscope" analyze --help >/dev/null 2>&1 && has_analyze=1
has_diff=0
"$rdbscope" diff --help >/dev/null 2>&1 && has_diff=1
ncores=$(nproc)

# ---- the other tools ---------------------------------------------------------------------
notes=()
rdb_crate=${RDB_CRATE:-$tools/bin/rdb}
rdbtools=${RDBTOOLS:-$tools/venv/bin/rdb}
rdb_crate_version="?"
rdbtools_version="?"
# Both CLIs are called `rdb`: check which one each path is.
if [[ -x $rdb_crate ]] && "$rdb_crate" --help 2>&1 | grep -q 'nil'; then
  if [[ -f $(dirname "$rdb_crate")/../.crates.toml ]]; then
    rdb_crate_version=$(sed -n 's/^"rdb \([^ ]*\) .*/\1/p' "$(dirname "$rdb_crate")/../.crates.toml" | head -1)
  fi
else
  notes+=("the rdb crate's CLI is missing (looked for $rdb_crate): \`cargo install rdb --version '~0.4' --locked --root $tools\`, or RDB_CRATE=path")
  rdb_crate=""
fi
if [[ -x $rdbtools ]] && "$rdbtools" --help 2>&1 | grep -q -- '--command'; then
  py=$(dirname "$rdbtools")/python
  if [[ -x $py ]]; then
    rdbtools_version=$("$py" -c 'import importlib.metadata as m; print(m.version("rdbtools"))' 2>/dev/null || echo "?")
  fi
else
  notes+=("redis-rdb-tools is missing (looked for $rdbtools): \`python3 -m venv $tools/venv && $tools/venv/bin/pip install rdbtools python-lzf\`, or RDBTOOLS=path")
  rdbtools=""
fi

# ---- datasets ----------------------------------------------------------------------------
declare -A ds_file ds_size ds_keys ds_ver
need_gen=0
for d in "${wanted[@]}"; do
  if [[ $d == R9 ]]; then
    [[ -f $rdb9 ]] || die "dataset R9: no file $rdb9 (give one with --rdb9)"
    ds_file[R9]=$(realpath "$rdb9")
  else
    ds_file[$d]=$dumps/$d.rdb
    [[ -f ${ds_file[$d]} ]] || need_gen=1
  fi
done
if ((need_gen)); then
  gen=${MAKE_BENCH_DUMPS:-$repo/../shared/tools/make-bench-dumps.sh}
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null && [[ -f $gen ]]; then
    say "generating the dumps in $dumps with $gen (a few minutes, ~4 GB of memory; log in $dumps/make-bench-dumps.log)"
    mkdir -p "$dumps"
    bash "$gen" "$dumps" 2>&1 | tee "$dumps/make-bench-dumps.log" >&2
  else
    die "the dumps are not in $dumps. To generate them: apt-get install -y redis-server (the \
packaged service need not run), then: bash ../shared/tools/make-bench-dumps.sh $dumps \
(or rerun this script, which does it when redis-server is on PATH; MAKE_BENCH_DUMPS=path)"
  fi
fi

mem_avail_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
for d in "${wanted[@]}"; do
  f=${ds_file[$d]}
  [[ -f $f ]] || die "dataset $d: $f is missing after generation"
  ds_size[$d]=$(stat -c %s "$f")
  hdr=$(head -c 9 "$f" | tr -c 'A-Za-z0-9' '?')
  if [[ $hdr =~ ^REDIS([0-9]{4})$ ]]; then ds_ver[$d]=$((10#${BASH_REMATCH[1]})); else ds_ver[$d]=0; fi
  if ((ds_size[$d] / 1024 > mem_avail_kb * 8 / 10)); then
    say "warning: $f (${ds_size[$d]} bytes) may not stay in the page cache (MemAvailable ${mem_avail_kb} kB)"
  fi
done

# ---- measuring ---------------------------------------------------------------------------
# One run of "$@" as a whole process, stdout to /dev/null. Sets: m_wall (s, from bash's
# clock around GNU time), m_rss (GNU time's peak RSS, kB), m_anon / m_file (largest RssAnon /
# RssFile polled from /proc, kB; empty if never sampled), m_rc, m_err (last stderr line).
m_wall="" m_rss="" m_anon="" m_file="" m_rc=0 m_err=""
sample_status() {
  local k v _u
  while read -r k v _u; do
    case $k in
      RssAnon:) if [[ -z $m_anon ]] || ((v > m_anon)); then m_anon=$v; fi ;;
      RssFile:) if [[ -z $m_file ]] || ((v > m_file)); then m_file=$v; fi ;;
    esac
  done 2>/dev/null <"/proc/$1/status" || true
}
first_child() { # prints the first child pid of $1, if any
  local c=""
  read -r c _ 2>/dev/null <"/proc/$1/task/$1/children" || true
  printf '%s' "$c"
}
measure() {
  local wf=$tmp/wall tf=$tmp/time ef=$tmp/stderr spid tpid="" cpid="" s e rc
  rm -f "$wf" "$tf" "$ef"
  m_anon="" m_file="" m_err=""
  # The subshell takes the clock just before and just after GNU time, so the wall time does
  # not depend on the polling interval; it is the parent of time, which is the parent of
  # the measured process.
  (
    s=$EPOCHREALTIME rc=0
    /usr/bin/time -f '%e %M' -o "$tf" -- "$@" >/dev/null 2>"$ef" || rc=$?
    printf '%s %s %s\n' "$s" "$EPOCHREALTIME" "$rc" >"$wf"
  ) &
  spid=$!
  while [[ ! -s $wf ]] && kill -0 "$spid" 2>/dev/null; do
    if [[ -z $tpid ]]; then tpid=$(first_child "$spid"); fi
    if [[ -n $tpid && -z $cpid ]]; then cpid=$(first_child "$tpid"); fi
    if [[ -n $cpid ]]; then sample_status "$cpid"; fi
    nap
  done
  wait "$spid" || true
  read -r s e rc <"$wf" || die "lost the timing of: $*"
  m_wall=$(awk -v s="$s" -v e="$e" 'BEGIN {printf "%.6f", e - s}')
  m_rc=$rc
  m_rss=$(awk 'NF >= 2 && $2 ~ /^[0-9]+$/ {r = $2} END {print r}' "$tf" 2>/dev/null || true)
  if ((m_rc != 0)); then
    m_err=$(grep -v '^Command exited with non-zero status' "$ef" | tail -n 1 | cut -c1-120 || true)
  fi
}

# Commands, in table order. cmd_<id> prints nothing and fills the array `cmd` for file $1,
# or sets `skip` to a reason.
ids=(cat an1 anN stdin salv zcat angz zstdc anzst diff diffjson keys rdbcrate rdbtools)
declare -A label=(
  [cat]="\`cat FILE > /dev/null\` (floor)"
  [an1]="\`rdbscope analyze --threads 1\`"
  [anN]="\`rdbscope analyze --threads $ncores\`"
  [stdin]="\`rdbscope analyze --threads $ncores - < FILE\` (streamed)"
  [salv]="\`rdbscope analyze --salvage\` on a copy with 64 bytes overwritten 512 KiB in"
  [zcat]="\`zcat FILE.gz > /dev/null\` (gzip floor)"
  [angz]="\`rdbscope analyze FILE.gz\`"
  [zstdc]="\`zstd -dc FILE.zst > /dev/null\` (zstd floor)"
  [anzst]="\`rdbscope analyze FILE.zst\`"
  [diff]="\`rdbscope diff M.rdb FILE\` (both analysed at once)"
  [diffjson]="\`rdbscope diff M.json FILE.json\` (saved reports)"
  [keys]="\`rdbscope keys --format csv\`"
  [rdbcrate]="\`rdb --format nil\` (rdb crate $rdb_crate_version)"
  [rdbtools]="\`rdb -c memory\` (rdbtools $rdbtools_version)"
)
cmd=() skip=""
build_cmd() { # id file version
  cmd=() skip=""
  case $1 in
    cat) cmd=(cat "$2") ;;
    an1 | anN)
      if ((!has_analyze)); then skip="this rdbscope has no \`analyze\` subcommand"; return; fi
      local t=1
      [[ $1 == anN ]] && t=$ncores
      cmd=("$rdbscope" analyze "$2" --quiet --json /dev/null --threads "$t") ;;
    stdin)
      if ((!has_analyze)); then skip="this rdbscope has no \`analyze\` subcommand"; return; fi
      # exec: the measured process is rdbscope itself, reading the file as a stream.
      cmd=(sh -c 'exec "$0" analyze - --quiet --json /dev/null --threads "$2" < "$1"' \
        "$rdbscope" "$2" "$ncores") ;;
    salv)
      if ((!has_analyze)); then skip="this rdbscope has no \`analyze\` subcommand"; return; fi
      # A copy with one damaged region in its first MiB (made once per dataset).
      local bad=$tmp/$(basename "$2").damaged
      if [[ ! -f $bad ]]; then
        cp "$2" "$bad"
        head -c 64 /dev/urandom | dd of="$bad" bs=1 seek=524288 conv=notrunc status=none
      fi
      cmd=("$rdbscope" analyze "$bad" --salvage --quiet --json /dev/null --threads "$ncores") ;;
    zcat | angz | zstdc | anzst)
      # Compressed copies beside the dump (made once: `pigz -k FILE`, `zstd -k -T0 FILE`).
      local z=$2.gz
      [[ $1 == zstdc || $1 == anzst ]] && z=$2.zst
      if [[ ! -f $z ]]; then skip="no $(basename "$z") beside the dump"; return; fi
      case $1 in
        zcat) cmd=(zcat "$z") ;;
        zstdc) cmd=(zstd -dc "$z") ;;
        *) cmd=("$rdbscope" analyze "$z" --quiet --json /dev/null --threads "$ncores") ;;
      esac ;;
    diff | diffjson)
      if ((!has_diff)); then skip="this rdbscope has no \`diff\` subcommand"; return; fi
      if [[ ! -f $dumps/M.rdb ]]; then skip="no M.rdb beside the dumps"; return; fi
      if [[ $1 == diff ]]; then
        cmd=("$rdbscope" diff "$dumps/M.rdb" "$2" --json /dev/null --threads "$ncores")
      else
        cmd=("$rdbscope" diff "$tmp/M.json" "$tmp/$(basename "$2").json" --json /dev/null)
      fi ;;
    keys) cmd=("$rdbscope" keys "$2" --format csv) ;;
    rdbcrate)
      if [[ -z $rdb_crate ]]; then skip="not installed"; return; fi
      cmd=("$rdb_crate" --format nil "$2") ;;
    rdbtools)
      if [[ -z $rdbtools ]]; then skip="not installed"; return; fi
      if (($3 < 1 || $3 > 9)); then skip="reads RDB <= 9 only"; return; fi
      cmd=("$rdbtools" -c memory "$2") ;;
  esac
}

declare -A walls rss anon file err
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
for d in "${wanted[@]}"; do
  f=${ds_file[$d]}
  say "dataset $d: $f (${ds_size[$d]} bytes): warming the page cache, counting keys"
  cat "$f" >/dev/null
  vout=$("$rdbscope" verify "$f" 2>&1) || die "rdbscope verify $f failed: $(tail -n 3 <<<"$vout")"
  ds_keys[$d]=$(sed -n 's/^keys: \([0-9]*\).*/\1/p' <<<"$vout" | head -1)
  [[ -n ${ds_keys[$d]} ]] || die "no key count in rdbscope verify's output for $f"
  if [[ -f $dumps/make-bench-dumps.log && $d != R9 ]]; then
    logged=$(sed -n "s/^$d: \([0-9]*\) keys.*/\1/p" "$dumps/make-bench-dumps.log" | tail -1)
    if [[ -n $logged && $logged != "${ds_keys[$d]}" ]]; then
      say "warning: $d: DBSIZE at generation was $logged, rdbscope verify counts ${ds_keys[$d]}"
    fi
  fi
  if ((has_diff)) && [[ -f $dumps/M.rdb ]]; then
    # The saved reports `diffjson` reads: M's (the old side) and this dataset's.
    [[ -f $tmp/M.json ]] || "$rdbscope" analyze "$dumps/M.rdb" --quiet --json "$tmp/M.json" >/dev/null
    "$rdbscope" analyze "$f" --quiet --json "$tmp/$(basename "$f").json" >/dev/null || true
  fi
  # Runs are interleaved (every command once, then again) so drift hits them alike.
  for ((r = 1; r <= runs; r++)); do
    for id in "${ids[@]}"; do
      build_cmd "$id" "$f" "${ds_ver[$d]}"
      [[ -n $skip ]] && continue
      k="$d|$id"
      [[ -n ${err[$k]:-} ]] && continue # failed once: do not insist
      say "  $d run $r/$runs: $id"
      measure "${cmd[@]}"
      # A salvaged report is partial by design: exit 3.
      if ((m_rc != 0)) && ! [[ $id == salv && $m_rc == 3 ]]; then
        err[$k]="exit $m_rc${m_err:+: $m_err}"
        continue
      fi
      walls[$k]+="$m_wall "
      if [[ -n $m_rss ]] && ((m_rss > ${rss[$k]:-0})); then rss[$k]=$m_rss; fi
      if [[ -n $m_anon ]] && ((m_anon > ${anon[$k]:--1})); then anon[$k]=$m_anon; fi
      if [[ -n $m_file ]] && ((m_file > ${file[$k]:--1})); then file[$k]=$m_file; fi
    done
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the table ---------------------------------------------------------------------------
median_min_max() { # "v1 v2 ..." -> "median min max"
  tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g |
    awk '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
         printf "%.6f %.6f %.6f\n", m, v[1], v[NR]}'
}
fmt_s() { awk -v x="$1" 'BEGIN {if (x < 0.1) printf "%.3f", x; else if (x < 10) printf "%.2f", x; else printf "%.1f", x}'; }
fmt_rate() { # n per second, with k / M / G
  awk -v x="$1" 'BEGIN {if (x >= 1e9) printf "%.2f G", x / 1e9; else if (x >= 1e6) printf "%.2f M", x / 1e6;
                        else if (x >= 1e5) printf "%.0f k", x / 1e3; else if (x >= 1e3) printf "%.1f k", x / 1e3;
                        else printf "%.0f", x}'
}
fmt_mb() { # kB (KiB) -> MB
  if [[ -z $1 ]]; then printf '—'; else awk -v k="$1" 'BEGIN {x = k * 1024 / 1e6; printf (x < 10 ? "%.1f" : "%.0f"), x}'; fi
}

ref_id=anN
((has_analyze)) || ref_id=keys
ref_label=${label[$ref_id]}

table=$tmp/table.md
{
  echo "| dataset | file | size | keys | RDB |"
  echo "|---|---|---|---|---|"
  for d in "${wanted[@]}"; do
    echo "| $d | \`$(basename "$(dirname "${ds_file[$d]}")")/$(basename "${ds_file[$d]}")\` | $(awk -v b="${ds_size[$d]}" 'BEGIN {printf (b >= 1e9 ? "%.2f GB" : "%.1f MB"), (b >= 1e9 ? b / 1e9 : b / 1e6)}') | ${ds_keys[$d]} | ${ds_ver[$d]} |"
  done
  echo
  echo "| dataset | command | median s | min–max s | MB/s | keys/s | peak RSS MB | peak RssAnon MB | peak RssFile MB | × ${ref_label//|/\\|} |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for d in "${wanted[@]}"; do
    ref=""
    if [[ -n ${walls["$d|$ref_id"]:-} ]]; then read -r ref _ _ <<<"$(median_min_max "${walls["$d|$ref_id"]}")"; fi
    for id in "${ids[@]}"; do
      k="$d|$id"
      build_cmd "$id" "${ds_file[$d]}" "${ds_ver[$d]}"
      if [[ -n $skip ]]; then
        [[ $id == rdbtools && $skip == "reads RDB <= 9 only" ]] && continue # said in the notes
        echo "| $d | ${label[$id]} | — | — | — | — | — | — | — | $skip |"
        continue
      fi
      if [[ -n ${err[$k]:-} ]]; then
        echo "| $d | ${label[$id]} | — | — | — | — | — | — | — | failed: ${err[$k]//|/\\|} |"
        continue
      fi
      read -r med lo hi <<<"$(median_min_max "${walls[$k]}")"
      mbs=$(awk -v b="${ds_size[$d]}" -v t="$med" 'BEGIN {printf "%.0f", b / 1e6 / t}')
      kps="—"
      [[ $id != cat ]] && kps=$(fmt_rate "$(awk -v n="${ds_keys[$d]}" -v t="$med" 'BEGIN {print n / t}')")
      ratio="—"
      [[ -n $ref ]] && ratio=$(awk -v t="$med" -v r="$ref" 'BEGIN {printf (t / r < 10 ? "%.2f" : "%.0f"), t / r}')
      echo "| $d | ${label[$id]} | $(fmt_s "$med") | $(fmt_s "$lo")–$(fmt_s "$hi") | $mbs | $kps | $(fmt_mb "${rss[$k]:-}") | $(fmt_mb "${anon[$k]:-}") | $(fmt_mb "${file[$k]:-}") | $ratio |"
    done
  done
  # Compressed inputs against their decompressor alone, in the same run.
  for d in "${wanted[@]}"; do
    for pair in "angz zcat" "anzst zstdc" "stdin anN" "salv anN"; do
      read -r a b <<<"$pair"
      [[ -n ${walls["$d|$a"]:-} && -n ${walls["$d|$b"]:-} ]] || continue
      read -r ta _ _ <<<"$(median_min_max "${walls["$d|$a"]}")"
      read -r tb _ _ <<<"$(median_min_max "${walls["$d|$b"]}")"
      echo
      echo "$d: ${label[$a]} takes $(awk -v a="$ta" -v b="$tb" 'BEGIN {printf "%.2f", a / b}')× the time of ${label[$b]}."
    done
  done
} >"$table"

cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -1)
ram=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
load1=${load_before%% *}
busy=$(awk -v l="$load1" 'BEGIN {print (l >= 0.5) ? 1 : 0}')
rdb9_note=""
for d in "${wanted[@]}"; do
  if ((ds_ver[$d] > 9)) && [[ -n $rdbtools ]]; then
    rdb9_note="redis-rdb-tools reads RDB <= 9 only, so it runs on R9 alone (RDB ${ds_ver[$d]} elsewhere)."
  fi
done
text=$tmp/section.md
{
  echo "## Comparison with other tools"
  echo
  echo "Generated by \`benches/compare.sh --runs $runs\` on $started: $ncores cores ($cpu), $ram RAM;"
  echo "load average $load_before before the run, $load_after after. $rdbscope_version,"
  echo "rdb crate $rdb_crate_version, redis-rdb-tools $rdbtools_version."
  if ((busy)); then
    echo "**The machine was not idle (1-minute load average $load1 when the run started): these numbers are rough.**"
  fi
  [[ -n $note ]] && echo "$note"
  echo
  echo "Each command is one whole process, stdout to \`/dev/null\`, its file in the page cache;"
  echo "median of $runs run(s), runs of the commands interleaved. MB = 10^6 bytes. Peak RSS is GNU"
  echo "time's (\`%M\`); for a memory-mapped input it counts the file pages the process touched."
  echo "RssAnon (memory of the process's own, beyond the mapped file) and RssFile are the largest"
  echo "values polled from \`/proc/PID/status\` every 50 ms: lower bounds for runs under ~0.1 s, — when"
  echo "a run ended before its first sample."
  echo "The last column is the median wall time over that of $ref_label on the same file."
  echo "Datasets A, B, C, M come from \`../shared/tools/make-bench-dumps.sh\` (Redis 7.0);"
  echo "R9 is \`../shared/corpus/redis-6.2.16/dump.rdb\` (Redis 6.2)."
  [[ -n $rdb9_note ]] && echo "$rdb9_note"
  echo
  cat "$table"
  if ((${#notes[@]})); then
    echo
    for n in "${notes[@]}"; do echo "- $n"; done
  fi
  if ((!has_analyze)); then
    echo
    echo "- \`rdbscope analyze\` was not available in this build: its rows are skipped and the ratio is to \`rdbscope keys\`."
  fi
} >"$text"

cat "$text"

if ((write_doc)); then
  doc=$repo/docs/performance.md
  [[ -f $doc ]] || die "no $doc"
  if grep -q '^<!-- compare:begin -->$' "$doc" && grep -q '^<!-- compare:end -->$' "$doc"; then
    awk -v sec="$text" '
      /^<!-- compare:begin -->$/ {print; while ((getline l < sec) > 0) print l; skip = 1; next}
      /^<!-- compare:end -->$/ {skip = 0}
      !skip {print}' "$doc" >"$tmp/doc.md"
  else
    { cat "$doc"; echo; echo "<!-- compare:begin -->"; cat "$text"; echo "<!-- compare:end -->"; } >"$tmp/doc.md"
  fi
  cat "$tmp/doc.md" >"$doc"
  say "wrote the comparison into $doc"
fi
