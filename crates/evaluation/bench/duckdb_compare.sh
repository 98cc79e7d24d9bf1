#!/usr/bin/env bash
# The batch run of benefit policies on DataFusion (`errandless policy bench --conditions`) side
# by side with the same SQL on DuckDB (PyPI `duckdb`, 2 threads), over the same snapshots of
# the data center. Each side registers the snapshots, runs the policy's compiled query and
# writes every subject's row of condition results (inputs, conditions, exclusions,
# eligibility, amount) to a Snappy Parquet file; both files are then checked to hold the same
# rows. Prints each side's time per run, their medians and the ratio.
#
# Usage: crates/evaluation/bench/duckdb_compare.sh DATA_DIR [POLICY_FILE...]
#   DATA_DIR     an installation whose data center holds synced snapshots (`errandless demo`)
#   POLICY_FILE  default: the freshman subsidy and the elderly allowance of policies/
# Environment:
#   ERRANDLESS   the binary (default: target/release/errandless of this repository)
#   RUNS         runs of each side (default 3)
#   DUCKDB_VENV  the virtual environment duckdb is installed into when missing
#                (default: ~/.cache/errandless/duckdb-venv)
#   OUT          where the Parquet files are written (default: DATA_DIR/bench-conditions),
#                removed at the end
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
if [ $# -lt 1 ]; then
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
data="$1"
shift
if [ $# -eq 0 ]; then
  set -- "$repo/policies/freshman-subsidy.toml" "$repo/policies/elderly-allowance.toml"
fi
errandless="${ERRANDLESS:-${CARGO_TARGET_DIR:-$repo/target}/release/errandless}"
runs="${RUNS:-3}"
venv="${DUCKDB_VENV:-$HOME/.cache/errandless/duckdb-venv}"
out="${OUT:-$data/bench-conditions}"

[ -x "$errandless" ] || { echo "no binary at $errandless: cargo build --release -p errandless-cli, or set ERRANDLESS" >&2; exit 1; }
[ -d "$data" ] || { echo "no data directory $data" >&2; exit 1; }
if ! "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
  echo "installing duckdb into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet duckdb
fi

mkdir -p "$out/datafusion" "$out/duckdb"
trap 'rm -rf "$out"' EXIT

"$venv/bin/python" - "$errandless" "$data" "$out" "$runs" "$@" <<'PY'
import csv, os, re, statistics, subprocess, sys, time
import duckdb

errandless, data, out, runs, policies = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
print(f"duckdb {duckdb.__version__}, {runs} runs, policies: {', '.join(os.path.basename(p) for p in policies)}")

def datafusion_run():
    res = subprocess.run(
        [errandless, "policy", "bench", "--data", data, "--subjects", "0",
         "--conditions", os.path.join(out, "datafusion"), *policies],
        check=True, capture_output=True, text=True)
    for line in res.stdout.splitlines():
        print("  datafusion  " + line)
    m = re.search(r"batch runs written to Parquet, \d+ policies: ([0-9.]+) s", res.stdout)
    if not m:
        sys.exit("errandless printed no total:\n" + res.stdout + res.stderr)
    return float(m.group(1))

def policy_ids():
    return sorted(f[:-len(".sql")] for f in os.listdir(os.path.join(out, "datafusion")) if f.endswith(".sql"))

def duckdb_run():
    total = 0.0
    for pid in policy_ids():
        base = os.path.join(out, "datafusion", pid)
        sql = open(base + ".sql").read().strip().rstrip(";")
        with open(base + ".tables.csv") as f:
            tables = list(csv.DictReader(f))
        target = os.path.join(out, "duckdb", pid + ".parquet")
        started = time.perf_counter()
        con = duckdb.connect()
        con.execute("SET threads = 2")
        for t in tables:
            con.execute(f"CREATE VIEW {t['name']} AS SELECT * FROM read_parquet('{t['file']}')")
        con.execute(f"COPY ({sql}) TO '{target}' (FORMAT parquet, COMPRESSION snappy)")
        took = time.perf_counter() - started
        rows = con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()[0]
        con.close()
        print(f"  duckdb      {pid}: batch run written to Parquet, {rows} subjects in {took:.3f} s")
        total += took
    print(f"  duckdb      batch runs written to Parquet, {len(policy_ids())} policies: {total:.3f} s")
    return total

def same_rows():
    con = duckdb.connect()
    for pid in policy_ids():
        # DataFusion writes one file per range of subjects.
        a = os.path.join(out, "datafusion", pid + ".part-*.parquet")
        b = os.path.join(out, "duckdb", pid + ".parquet")
        summary = "SELECT count(*), count(*) FILTER (WHERE eligible), sum(amount) FROM read_parquet('{}')"
        sa, sb = con.execute(summary.format(a)).fetchone(), con.execute(summary.format(b)).fetchone()
        diff = con.execute(
            f"SELECT count(*) FROM (SELECT * FROM read_parquet('{a}') EXCEPT ALL SELECT * FROM read_parquet('{b}'))"
        ).fetchone()[0]
        print(f"  {pid}: subjects, eligible, amount: datafusion {sa}, duckdb {sb}; rows differing: {diff}")
        if sa != sb or diff != 0:
            sys.exit(f"{pid}: DataFusion and DuckDB disagree")

df_times, duck_times = [], []
for run in range(1, runs + 1):
    print(f"run {run}")
    df_times.append(datafusion_run())
    duck_times.append(duckdb_run())
same_rows()
df, dk = statistics.median(df_times), statistics.median(duck_times)
print(f"DataFusion median {df:.3f} s ({', '.join(f'{t:.3f}' for t in df_times)})")
print(f"DuckDB     median {dk:.3f} s ({', '.join(f'{t:.3f}' for t in duck_times)})")
print(f"ratio DataFusion / DuckDB: {df / dk:.2f}")
PY
