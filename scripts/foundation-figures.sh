#!/usr/bin/env bash
# Figures for a 10k-chunk 26-dim (letters) library and a 10k × 384 one (wordnet-lsa384):
# wall time of `chunk add --stdin`, of one cold `vdb query`, of 1,000 queries
# through `query --stdin`, and the snapshot size. Needs hyperfine for the cold query.
#   scripts/foundation-figures.sh [DATA_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$root/../shared/data/wordnet-lsa384}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
vdb="node $root/bin/vdb"
export VDB_SEED=figures NO_COLOR=1

node - "$data" "$work" <<'JS'
const fs = require('fs');
const [data, work] = process.argv.slice(2);
const f32 = (p) => { const b = fs.readFileSync(p); return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); };
const texts = fs.readFileSync(`${data}/texts.jsonl`, 'utf8').trim().split('\n').slice(0, 10000).map(JSON.parse);
const qtexts = fs.readFileSync(`${data}/queries.jsonl`, 'utf8').trim().split('\n').map(JSON.parse);
const base = f32(`${data}/base.f32`), queries = f32(`${data}/queries.f32`);
const row = (a, i) => Array.from(a.subarray(i * 384, (i + 1) * 384));
fs.writeFileSync(`${work}/letters.ndjson`, texts.map((t) => JSON.stringify({ text: t.text, metadata: { id: t.id } })).join('\n') + '\n');
fs.writeFileSync(`${work}/letters-q.ndjson`, qtexts.map((t) => JSON.stringify({ text: t.text, k: 10 })).join('\n') + '\n');
fs.writeFileSync(`${work}/lsa.ndjson`, texts.map((t, i) => JSON.stringify({ text: t.text, embedding: row(base, i) })).join('\n') + '\n');
fs.writeFileSync(`${work}/lsa-q.ndjson`, qtexts.map((_, q) => JSON.stringify({ embedding: row(queries, q), k: 10 })).join('\n') + '\n');
fs.writeFileSync(`${work}/lsa-q1.json`, JSON.stringify(row(queries, 0)));
JS

secs() { local s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | bc; }

for kind in letters lsa; do
  db=$work/$kind.json
  if [ $kind = letters ]; then $vdb --db $db lib create docs >/dev/null; q=(--text "a small quantity of something")
  else $vdb --db $db lib create docs --dim 384 >/dev/null; q=(--embedding "$(cat $work/lsa-q1.json)"); fi
  add=$(secs $vdb --db $db chunk add --lib docs --stdin < $work/$kind.ndjson)
  for type in linear kdtree lsh hnsw; do
    build=$(secs $vdb --db $db index build --lib docs --type $type)
    cold=$(hyperfine -N -w 2 -r 10 --export-json $work/h.json "$vdb --db $db query --lib docs ${q[*]@Q}" >/dev/null 2>&1; node -e "console.log((require('$work/h.json').results[0].median*1000).toFixed(0))")
    batch=$(secs $vdb --db $db query --lib docs --stdin < $work/$kind-q.ndjson)
    # The manifest plus every sidecar file it references (a v2 snapshot keeps its arrays in $db.d/).
    size=$(node -e "const t=require('fs').readFileSync('$db','utf8');let n=t.length;for(const m of t.matchAll(/\"bytes\":(\d+)/g))n+=Number(m[1]);console.log(n)")
    printf '%-8s %-7s add-10k %6.2fs  build %5.2fs  cold-query %4sms  1000q-stdin %6.2fs  snapshot %5.1f MB\n' \
      $kind $type $add $build $cold $batch $(echo "$size/1000000" | bc -l)
  done
done
printf 'node -e "" : '; hyperfine -N -w 2 -r 10 --export-json $work/h.json "node -e ''" >/dev/null 2>&1; node -e "console.log((require('$work/h.json').results[0].median*1000).toFixed(0)+'ms')"
printf 'vdb --version: '; hyperfine -N -w 2 -r 10 --export-json $work/h.json "$vdb --version" >/dev/null 2>&1; node -e "console.log((require('$work/h.json').results[0].median*1000).toFixed(0)+'ms')"
