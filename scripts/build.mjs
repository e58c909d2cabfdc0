// Bundles the CLI into one CommonJS file so start-up reads one file (fast), and chalk's ESM is inlined; and the
// library API (src/index.ts) as ESM and CommonJS bundles, with its type declarations (tsconfig.types.json).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
const common = { bundle: true, platform: 'node', target: 'node20', minify: false, sourcemap: false, legalComments: 'none', logLevel: 'warning' };
await build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/tsiptables.cjs', format: 'cjs' });
await build({ ...common, entryPoints: ['src/index.ts'], outfile: 'dist/index.cjs', format: 'cjs' });
await build({
  ...common,
  entryPoints: ['src/index.ts'],
  outfile: 'dist/index.mjs',
  format: 'esm',
  // The CommonJS packages inside (commander, cli-table3) require() Node's built-ins.
  banner: { js: "import { createRequire as __tsiCreateRequire } from 'node:module'; const require = __tsiCreateRequire(import.meta.url);" },
});
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.types.json'], { stdio: 'inherit' });
// The declarations use extension-less relative imports; as CommonJS declarations TypeScript's node16/nodenext
// resolution accepts them (named imports of a CommonJS module are fine from ESM).
const { writeFileSync } = await import('node:fs');
writeFileSync('dist/types/package.json', '{ "type": "commonjs" }\n');
