/**
 * `tsiptables nft ...`: the nft 1.0.6 command line over the state file's nftables ruleset (Ruleset.nft).
 *   nft [-a] -f FILE | -f -        run a file (or stdin) as one atomic batch
 *   nft list ruleset | list table [FAMILY] NAME | list chain [FAMILY] TABLE NAME
 *   nft flush ruleset | add table ... | add rule ... (any command, its words joined by blanks as nft joins them)
 *   -a (handles), -c (check only), -v (version), --host HOSTFILE (interfaces for iif/oif/fwd, as trace's host file)
 * Errors and exit statuses are nft's: the message with its location and carets on stderr, exit 1.
 */
import { restoreTranslate, RestoreTranslateError } from '../nft/restore-translate';
import { hookRank } from '../eval/hook-order';
import { listRulesetWithIptables } from '../nft/iptables-listing';
import { readFileSync } from 'node:fs';
import { loadState, statePath, withLock, writeState } from '../io/state';
import { Host, HostFileError } from '../eval/host';
import { rulesetFromText, runNftText, storedText, withInterfaces } from '../nft/index';
import { IptablesError } from '../messages';
import { translate, UntranslatableYet } from '../nft/translate';
import type { RunResult } from './main';
import { formatError } from './output';

/** `tsiptables translate ARGS`: what `iptables-translate ARGS` prints (iptables 1.8.9). */
export function runTranslate(argv: readonly string[]): RunResult {
  const program = 'tsiptables-translate';
  try {
    return translate(argv);
  } catch (e) {
    if (e instanceof IptablesError) return { stdout: '', stderr: formatError(e, program), status: e.status };
    if (e instanceof UntranslatableYet) return { stdout: '', stderr: `${program}: no translation for ${e.message} yet\n`, status: 1 };
    throw e;
  }
}

const RESTORE_TRANSLATE_USAGE =
  'iptables-restore-translate 1.8.9 (c) 2014 by Pablo Neira Ayuso <pablo@netfilter.org>\n' +
  'Usage: iptables-restore-translate [-h] [-f <FILE>] [-V]\n\t[ --help ]\n\t[ --file=<FILE> ]\n\t[ --version ]\n';

/**
 * `tsiptables restore-translate -f FILE` (also `tsiptables translate -f FILE`): what `iptables-restore-translate
 * -f FILE` prints for the dump FILE (`-` or /dev/stdin: standard input).
 */
export function runRestoreTranslate(argv: readonly string[], stdin: () => string, now = new Date()): RunResult {
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-f' || a === '--file') file = argv[++i];
    else if (a.startsWith('--file=')) file = a.slice('--file='.length);
    else if (a === '-h' || a === '--help') return { stdout: RESTORE_TRANSLATE_USAGE, stderr: '', status: 0 };
    else return { stdout: '', stderr: `tsiptables-restore-translate: unknown option "${a}"\n${RESTORE_TRANSLATE_USAGE}`, status: 1 };
  }
  if (file === undefined) return { stdout: '', stderr: `ERROR: missing file name\n${RESTORE_TRANSLATE_USAGE}`, status: 1 };
  let text: string;
  try {
    text = file === '-' || file === '/dev/stdin' ? stdin() : readFileSync(file, 'utf8');
  } catch (e) {
    return { stdout: '', stderr: `tsiptables-restore-translate: cannot open file ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : String((e as Error).message)}\n`, status: 1 };
  }
  try {
    return { stdout: restoreTranslate(text, now), stderr: '', status: 0 };
  } catch (e) {
    // It names itself iptables-translate-restore in its errors (xtables-translate.c's program name).
    if (e instanceof RestoreTranslateError) return { stdout: e.printed, stderr: formatError(e.error, 'tsiptables-translate-restore', e.line), status: e.error.status };
    throw e;
  }
}

/**
 * `interfaces`: the host's devices in ifindex order (a lab's namespace), for iif/oif and hook devices; else
 * --host's, else a fresh namespace's lo.
 */
export async function runNft(argv: readonly string[], stdin: () => string, statefile?: string, interfaces?: readonly string[]): Promise<RunResult> {
  let file: string | undefined;
  let handles = false;
  let check = false;
  let hostFile: string | undefined;
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (words.length === 0 && (a === '-f' || a === '--file')) {
      file = argv[++i];
      if (file === undefined) return { stdout: '', stderr: "nft: option requires an argument -- 'f'\n", status: 1 };
    } else if (words.length === 0 && (a === '-a' || a === '--handle')) handles = true;
    else if (words.length === 0 && (a === '-c' || a === '--check')) check = true;
    else if (words.length === 0 && a === '--host') {
      hostFile = argv[++i];
      if (hostFile === undefined) return { stdout: '', stderr: 'tsiptables nft: --host needs a HOSTFILE\n', status: 2 };
    }
    else if (words.length === 0 && (a === '-v' || a === '--version')) return { stdout: 'nftables v1.0.6 (Lester Gooch #5)\n', stderr: '', status: 0 };
    else if (words.length === 0 && (a === '-n' || a === '-s' || a === '--stateless')) continue;
    else if (words.length === 0 && a.startsWith('--') && a.length > 2) return { stdout: '', stderr: `nft: unrecognized option '${a}'\n`, status: 1 };
    else if (words.length === 0 && a.startsWith('-') && a.length > 1) return { stdout: '', stderr: `nft: invalid option -- '${a[1]}'\n`, status: 1 };
    else words.push(a);
  }
  let text: string;
  let source: string | undefined;
  if (file !== undefined) {
    if (words.length > 0) return { stdout: '', stderr: 'Error: -i/--interactive and -f/--file options cannot be combined with commands\n', status: 1 };
    if (file === '-') {
      text = stdin();
      source = '/dev/stdin';
    } else {
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        const code = (e as { code?: string }).code;
        const reason = code === 'ENOENT' ? 'No such file or directory' : code === 'EACCES' ? 'Permission denied' : code === 'EISDIR' ? 'Is a directory' : String(code);
        return { stdout: '', stderr: `internal:0:0-0: Error: Could not open file "${file}": ${reason}\n\n\n`, status: 1 };
      }
      source = file;
    }
  } else {
    if (words.length === 0) return { stdout: '', stderr: 'nft: no command specified\n', status: 1 };
    text = `${words.join(' ')}\n`;
    source = undefined;
  }
  const path = statefile ?? statePath();
  // `-c`: checked as a batch, never committed.
  const readOnly = check || (file === undefined && words[0] === 'list');
  const work = (): RunResult => {
    const listsAll = file === undefined && words.length === 2 && words[0] === 'list' && words[1] === 'ruleset';
    // `list ruleset` shows the iptables-nft tables too: they are nf_tables tables of the same host.
    const rs = loadState(path, listsAll ? undefined : new Set());
    const base = rulesetFromText(rs.nft);
    const r = runNftText(text, base, source, { handles });
    if (!r.ok) {
      // A command line's error shows the command without its final newline.
      return { stdout: '', stderr: r.stderr, status: 1 };
    }
    if (!readOnly && /(^|[\n;])\s*flush\s+ruleset\s*(?=$|[\n;#])/.test(text)) {
      // `flush ruleset` deletes every table of the host, the iptables-nft ones too (recorded with the real nft).
      rs.tables.clear();
      rs.untouched.clear();
      writeState(path, rs);
    }
    if (!readOnly) {
      const next = storedText(r.ruleset);
      if (next !== (rs.nft ?? '')) {
        rs.nft = next === '' ? undefined : next;
        writeState(path, rs);
      }
    }
    if (listsAll && rs.tables.size > 0) {
      const rankOf = hookRank(rs.hookOrder);
      const nftRank = (family: string, name: string): number => {
        const t = r.ruleset.table(family as never, name);
        const ranks = t ? [...t.chains.values()].filter((c) => c.base).map((c) => rankOf(`nft:${family}:${name}:${c.name}`)) : [];
        return ranks.length ? Math.min(...ranks) : -1;
      };
      const chunks = listRulesetWithIptables(r.output, rs, rankOf, nftRank);
      const of = (fd: 1 | 2): string => chunks.filter(([f]) => f === fd).map(([, t]) => t).join('');
      return { stdout: of(1), stderr: of(2), status: 0, chunks };
    }
    return { stdout: r.output, stderr: '', status: 0 };
  };
  // Interfaces: the host file's (ifindex in the order they appear, lo first), else a fresh namespace's lo.
  let lookup = (name: string): number | undefined => (name === 'lo' ? 1 : undefined);
  if (interfaces !== undefined) {
    lookup = (name) => {
      const i = interfaces.indexOf(name);
      return i < 0 ? undefined : i + 1;
    };
  }
  if (hostFile !== undefined) {
    try {
      const names = [...Host.parse(readFileSync(hostFile, 'utf8')).ifaces.keys()];
      lookup = (name) => {
        const i = names.indexOf(name);
        return i < 0 ? undefined : i + 1;
      };
    } catch (e) {
      const msg = e instanceof HostFileError ? e.message : (e as Error).message;
      return { stdout: '', stderr: `tsiptables nft: ${hostFile}: ${msg}\n`, status: 2 };
    }
  }
  return readOnly ? withInterfaces(lookup, work) : withLock(path, undefined, () => withInterfaces(lookup, work));
}
