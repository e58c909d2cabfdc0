// Bundles the CLI into one CommonJS file so start-up reads one file (fast), and chalk's ESM is inlined; and the
// library API (src/index.ts) as ESM and CommonJS bundles, with its type declarations (tsconfig.types.json).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
const common = { bundle: true, platform: 'node', target: 'node20', minify: false, sourcemap: false, legalComments: 'none', logLevel: 'warning' };
// The code cache of the previous bundle goes first: V8 would take it for a new bundle of the same length.
rmSync('dist/tsiptables.cjs.cache', { force: true });
await build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/tsiptables.cjs', format: 'cjs' });
await build({ ...common, entryPoints: ['src/boot.ts'], outfile: 'dist/boot.cjs', format: 'cjs' });
await build({ ...common, entryPoints: ['src/index.ts'], outfile: 'dist/index.cjs', format: 'cjs' });
await build({
  ...common,
  entryPoints: ['src/index.ts'],
  outfile: 'dist/index.mjs',
  format: 'esm',
  // The CommonJS packages inside (commander, cli-table3) require() Node's built-ins.
  banner: { js: "import { createRequire as __tsiCreateRequire } from 'node:module'; const require = __tsiCreateRequire(import.meta.url);" },
});
// V8's code cache for the CLI bundle (src/boot.ts): one typical command (a rule parsed, checked and written to
// a throw-away state) compiles the functions most commands use, and its compiled code is stored beside the bundle.
const scratch = mkdtempSync(`${tmpdir()}/tsiptables-build-`);
execFileSync(process.execPath, ['bin/tsiptables', '-A', 'INPUT', '-p', 'tcp', '-m', 'conntrack', '--ctstate', 'NEW', '--dport', '22', '-j', 'ACCEPT'], {
  stdio: 'inherit',
  env: { ...process.env, TSIPTABLES_STATE: `${scratch}/rules.v4`, TSIPTABLES_WRITE_CODE_CACHE: '1' },
});
rmSync(scratch, { recursive: true, force: true });
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.types.json'], { stdio: 'inherit' });
// The declarations use extension-less relative imports; as CommonJS declarations TypeScript's node16/nodenext
// resolution accepts them (named imports of a CommonJS module are fine from ESM).
writeFileSync('dist/types/package.json', '{ "type": "commonjs" }\n');
