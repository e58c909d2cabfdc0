/** The nftables side: text in (a file or a command line), a new ruleset and the text nft would print out. */
import { parseNft } from '../../grammar/nft/index';
import { runBatch } from './apply';
import { withInterfaces } from './datatypes';

export { withInterfaces } from './datatypes';
import { isSyntaxError, NftError, NftErrors, formatNftError } from './errors';
import { NftRuleset } from './model';
import { rulesetText } from './print';

export { NftRuleset } from './model';
export { rulesetText } from './print';

export type NftOutcome = { ok: true; ruleset: NftRuleset; output: string } | { ok: false; stderr: string };

export interface NftRunOptions {
  /** `nft -a`: listings show `# handle N`. */
  handles?: boolean;
  /** Reading stored text: object handles by line. */
  storedHandles?: Map<number, number>;
}

/** Runs nft text against `base`. `sourceName` is the file name nft shows (`/dev/stdin` for `-f -`), undefined for argv. */
export function runNftText(text: string, base: NftRuleset, sourceName: string | undefined, opts: NftRunOptions = {}): NftOutcome {
  const lines = text.split('\n');
  const parsed = parseNft(text);
  if (!parsed.ok) {
    // nft evaluates what parsed; its report lists the syntax errors in the order of the input, then the rest.
    const grammar = parsed.errors.map((e) => new NftError(e.message, e.loc));
    let rest: NftError[] = [];
    try {
      runBatch(parsed.statements, base, { evaluateOnly: true, source: { name: sourceName, lines } });
    } catch (e) {
      if (e instanceof NftErrors) rest = e.errors;
      else if (e instanceof NftError) rest = [e];
      else throw e;
    }
    const pos = (e: NftError): number => e.loc?.offset ?? Number.MAX_SAFE_INTEGER;
    const syntax = [...grammar, ...rest.filter(isSyntaxError)].sort((a, b) => pos(a) - pos(b));
    const all = [...syntax, ...rest.filter((e) => !isSyntaxError(e))];
    return { ok: false, stderr: all.map((e) => formatNftError(e, { name: sourceName, lines })).join('') };
  }
  try {
    const r = runBatch(parsed.statements, base, { storedHandles: opts.storedHandles, listHandles: opts.handles, source: { name: sourceName, lines } });
    return { ok: true, ruleset: r.ruleset, output: r.output };
  } catch (e) {
    if (e instanceof NftErrors) return { ok: false, stderr: e.errors.map((x) => formatNftError(x, { name: sourceName, lines })).join('') };
    if (e instanceof NftError) return { ok: false, stderr: formatNftError(e, { name: sourceName, lines }) };
    throw e;
  }
}

/**
 * The state file's form of a ruleset: `nft -a list ruleset` text (readable by `nft -f`), after a comment line with
 * the handle counters the kernel would keep: `# tsiptables: handles LAST_TABLE_HANDLE LAST_HANDLE_OF_EACH_TABLE...`.
 */
export function storedText(rs: NftRuleset): string {
  if (rs.tables.length === 0 && rs.lastTableHandle === 0) return '';
  return `# tsiptables: handles ${[rs.lastTableHandle, ...rs.tables.map((t) => t.lastHandle)].join(' ')}\n${rulesetText(rs, true)}`;
}

const HANDLES_LINE = /^# tsiptables: handles ([\d ]+)\n/;
const HANDLE_AT_END = /# handle (\d+)$/;

/** The ruleset a stored text describes (empty when there is none); plain `nft list ruleset` text is read too. */
export function rulesetFromText(text: string | undefined): NftRuleset {
  if (text === undefined || text === '') return new NftRuleset();
  const storedHandles = new Map<number, number>();
  text.split('\n').forEach((l, i) => {
    const m = HANDLE_AT_END.exec(l);
    if (m) storedHandles.set(i + 1, Number(m[1]));
  });
  // Interfaces were resolved when the rules were added: any name reads back.
  const r = withInterfaces(() => 1, () => runNftText(text, new NftRuleset(), 'state', { storedHandles }));
  if (!r.ok) throw new Error(`stored nft ruleset does not read back: ${r.stderr}`);
  const counters = HANDLES_LINE.exec(text)?.[1]?.split(' ').map(Number);
  if (counters) {
    r.ruleset.lastTableHandle = counters[0] ?? 0;
    r.ruleset.tables.forEach((t, i) => {
      t.lastHandle = counters[i + 1] ?? 0;
    });
  }
  return r.ruleset;
}
