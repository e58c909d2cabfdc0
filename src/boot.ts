/**
 * Start-up of the bundled CLI with V8's code cache: the bin/ shims load dist/tsiptables.cjs through here.
 *
 * Compiling the 1 MB bundle is about half of an empty command's time (wrapSafe: ~25 ms of ~50 ms on the 2-core
 * build machine). `npm run build` runs one command through this loader with TSIPTABLES_WRITE_CODE_CACHE set,
 * which stores V8's compiled code (everything that command compiled) beside the bundle; later runs hand it to
 * V8, which takes it when the V8 version and flags are the ones it was made with and quietly compiles from
 * source otherwise (another Node version). A bundle rebuilt after its cache runs without it (codeCacheOf).
 * Node 22 has this built in (module.enableCompileCache); the project supports Node 20.
 */
import { readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

interface Cli {
  main(program: string, argv: string[]): void;
}

/** Node's CommonJS wrapper (Module.wrap), typed: it is missing from @types/node's declaration of Module. */
const wrap = (Module as unknown as { wrap(source: string): string }).wrap;

/**
 * The code cache beside `bundle`, when it was made after the bundle. V8 checks a cache against the source's
 * length only, not its content, so a cache left from an earlier bundle of the same length would run that earlier
 * code: a bundle newer than its cache (rebuilt without one) runs without it. (npm gives both files of an
 * installed package the same time.)
 */
function codeCacheOf(bundle: string): Buffer | undefined {
  try {
    const cache = `${bundle}.cache`;
    if (statSync(cache).mtimeMs < statSync(bundle).mtimeMs) return undefined;
    return readFileSync(cache);
  } catch {
    return undefined;
  }
}

/** Loads `bundle` (a CommonJS file) as require() would, with its code cache when it fits (codeCacheOf). */
function loadBundle(bundle: string): { cli: Cli; script: Script } {
  const source = readFileSync(bundle, 'utf8');
  const cachedData = codeCacheOf(bundle);
  const script = new Script(wrap(source), { filename: bundle, cachedData });
  const module = { exports: {} as Cli, filename: bundle, id: bundle, loaded: false };
  const run = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;
  run.call(module.exports, module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  module.loaded = true;
  return { cli: module.exports, script };
}

/** Runs the CLI `program` with `argv`; `dist` is the directory of the bundle. */
export function boot(dist: string, program: string, argv: string[]): void {
  const bundle = join(dist, 'tsiptables.cjs');
  const { cli, script } = loadBundle(bundle);
  if (process.env.TSIPTABLES_WRITE_CODE_CACHE) {
    // After the command: the cache then holds the functions it compiled, not only the top level.
    process.on('exit', () => {
      const tmp = `${bundle}.cache.${process.pid}`;
      try {
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, `${bundle}.cache`);
      } catch {
        try {
          unlinkSync(tmp);
        } catch {
          // Never written.
        }
      }
    });
  }
  cli.main(program, argv);
}
