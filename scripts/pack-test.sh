#!/usr/bin/env bash
# The packed package works in a fresh directory: `npm pack`, install the tarball into an empty project, then run
# the CLI (tsiptables, tsiptables-save, tsiptables trace) and the library API from ESM, CommonJS and TypeScript.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
npm run -s build >/dev/null
tarball=$(npm pack --silent --pack-destination "$work" | tail -1)
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --silent "./$tarball" typescript@5 @types/node@20 >/dev/null
export TSIPTABLES_STATE="$work/rules.v4"
npx tsiptables -t nat -A POSTROUTING -s 10.0.0.0/8 -o eth0 -j MASQUERADE
test "$(npx tsiptables-save | grep -c -- '-A POSTROUTING -s 10.0.0.0/8 -o eth0 -j MASQUERADE')" = 1
npx tsiptables trace --json -p tcp -s 10.1.2.3 -d 8.8.8.8 --dport 53 | grep -q '"fate":"dropped"\|"fate":"sent"'
cp "$root/fixtures/examples/router-lab/rules.txt" "$root/fixtures/examples/router-lab/host.txt" .
cat > api.mjs <<'JS'
import { readFileSync } from 'node:fs';
import { parseSave, runCommand, trace } from 'tsiptables';
const rs = parseSave(readFileSync('rules.txt', 'utf8'));
runCommand(rs, '-A INPUT -p tcp --dport 22 -j ACCEPT');
const r = trace(rs, '-p icmp -s 10.0.1.2 -d 10.0.2.2 -i eth0', { host: readFileSync('host.txt', 'utf8') });
if (r.fate !== 'forwarded' || r.packet?.src !== '10.0.2.1') throw new Error(`unexpected: ${JSON.stringify(r)}`);
console.log('esm ok', r.fate, r.out, r.packet.src);
JS
node api.mjs
node -e "const { Ruleset, runCommand } = require('tsiptables'); const rs = new Ruleset(); runCommand(rs, '-N FOO'); console.log('cjs ok', runCommand(rs, '-S').split('\n').length);"
cat > api.ts <<'TS'
import { parseSave, trace, type TraceReport } from 'tsiptables';
const r: TraceReport = trace(parseSave('*filter\n:INPUT DROP [0:0]\nCOMMIT\n'), '-p udp -s 10.0.0.2 -d 192.168.1.10 -i eth0');
const fate: 'delivered' | 'forwarded' | 'sent' | 'dropped' = r.fate;
console.log(fate);
TS
npx tsc --noEmit --strict --module nodenext --moduleResolution nodenext --skipLibCheck false api.ts
echo "pack test: the packed tsiptables installs and runs (CLI, ESM, CommonJS, TypeScript types) in $work"
