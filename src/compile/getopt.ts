/**
 * GNU getopt_long() as iptables drives it: optstring "-:..." (non-options come back in order as value 1,
 * a missing argument comes back as ':'), short clusters ("-nvL", "-tnat"), long options with unique-prefix
 * abbreviation and `--opt=value`. The option list grows while parsing (each -m/-j adds its extension's
 * options in front of older ones), so the caller passes the current list on every call.
 */

export type HasArg = 0 | 1 | 2;

export interface LongOption<K> {
  name: string;
  hasArg: HasArg;
  /** Identity of the option (getopt's `val`): equal keys are the same option for ambiguity. */
  key: K;
}

/**
 * The long options in getopt's search order, as groups (core options, then each loaded extension newest
 * first): exact names are looked up per group by a map built once per group, not by scanning a merged list.
 */
export interface LongGroup<K> {
  readonly options: readonly LongOption<K>[];
  readonly byName: ReadonlyMap<string, LongOption<K>>;
}

export function longGroup<K>(options: readonly LongOption<K>[]): LongGroup<K> {
  const byName = new Map<string, LongOption<K>>();
  for (const o of options) if (!byName.has(o.name)) byName.set(o.name, o);
  return { options, byName };
}

export type GetoptResult<K> =
  | { kind: 'end' }
  /** A non-option word (getopt value 1). */
  | { kind: 'word'; arg: string }
  /** `raw` is argv[optind-1] after the option: what iptables 1.8.9 reads for -s/-d/-p/-i/-o/-j. */
  | { kind: 'short'; letter: string; arg: string | undefined; raw: string }
  | { kind: 'long'; option: LongOption<K>; arg: string | undefined; raw: string }
  /** '?': unknown or ambiguous option; `shown` is what iptables prints ("-q" or the whole argv word). */
  | { kind: 'unknown'; shown: string }
  /** ':': a required argument is missing; `shown` is argv[optind-1]. */
  | { kind: 'missing'; shown: string };

/** Parsed optstrings, shared by every Getopt (one per command line: thousands in a restore). */
const shortTables = new Map<string, Map<string, HasArg>>();

function shortTable(optstring: string): Map<string, HasArg> {
  let t = shortTables.get(optstring);
  if (t) return t;
  t = new Map();
  const spec = optstring.replace(/^[-+]?:?/, '');
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i]!;
    let has: HasArg = 0;
    if (spec[i + 1] === ':') {
      has = spec[i + 2] === ':' ? 2 : 1;
      i += has;
    }
    t.set(c, has);
  }
  shortTables.set(optstring, t);
  return t;
}

export class Getopt<K> {
  optind = 0;
  private nextchar = '';
  /** Short options: letter -> has_arg. */
  private readonly shorts: Map<string, HasArg>;

  constructor(
    readonly argv: readonly string[],
    optstring: string,
  ) {
    this.shorts = shortTable(optstring);
  }

  /** Steps back one argv element (iptables' `optind--` before re-running getopt after loading an extension). */
  unread(): void {
    this.optind--;
    this.nextchar = '';
  }

  next(longopts: readonly LongGroup<K>[]): GetoptResult<K> {
    if (this.nextchar === '') {
      if (this.optind >= this.argv.length) return { kind: 'end' };
      const arg = this.argv[this.optind]!;
      if (arg === '--') {
        this.optind++;
        return { kind: 'end' };
      }
      if (arg[0] !== '-' || arg.length === 1) {
        this.optind++;
        return { kind: 'word', arg };
      }
      if (arg.startsWith('--')) return this.long(arg, longopts);
      this.nextchar = arg.slice(1);
      this.optind++;
    }
    const c = this.nextchar[0]!;
    this.nextchar = this.nextchar.slice(1);
    const has = this.shorts.get(c);
    if (has === undefined || c === ':' || c === '-') {
      return { kind: 'unknown', shown: `-${c}` };
    }
    if (has === 0) return { kind: 'short', letter: c, arg: undefined, raw: this.raw() };
    if (this.nextchar !== '') {
      const v = this.nextchar;
      this.nextchar = '';
      return { kind: 'short', letter: c, arg: v, raw: this.raw() };
    }
    if (has === 2) return { kind: 'short', letter: c, arg: undefined, raw: this.raw() };
    if (this.optind < this.argv.length) {
      const v = this.argv[this.optind++]!;
      return { kind: 'short', letter: c, arg: v, raw: v };
    }
    return { kind: 'missing', shown: `-${c}` };
  }

  private long(word: string, groups: readonly LongGroup<K>[]): GetoptResult<K> {
    this.optind++;
    const body = word.slice(2);
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    let found: LongOption<K> | undefined;
    for (const g of groups) {
      found = g.byName.get(name);
      if (found) break;
    }
    if (!found) {
      // No exact name: a unique prefix (or several entries that are the same option), in list order.
      const candidates: LongOption<K>[] = [];
      for (const g of groups) for (const o of g.options) if (o.name.startsWith(name)) candidates.push(o);
      if (candidates.length === 0) return { kind: 'unknown', shown: word };
      const first = candidates[0]!;
      const ambiguous = candidates.some((o) => o.key !== first.key || o.hasArg !== first.hasArg);
      if (ambiguous) return { kind: 'unknown', shown: word };
      found = first;
    }
    if (eq >= 0) {
      if (found.hasArg === 0) return { kind: 'unknown', shown: word };
      return { kind: 'long', option: found, arg: body.slice(eq + 1), raw: word };
    }
    if (found.hasArg === 1) {
      if (this.optind < this.argv.length) {
        const v = this.argv[this.optind++]!;
        return { kind: 'long', option: found, arg: v, raw: v };
      }
      return { kind: 'missing', shown: word };
    }
    return { kind: 'long', option: found, arg: undefined, raw: word };
  }

  private raw(): string {
    return this.argv[this.optind - 1] ?? '';
  }

  /** iptables' xs_has_arg(): the next element exists and starts with neither '-' nor '!'. */
  hasArg(): boolean {
    const a = this.argv[this.optind];
    return a !== undefined && a[0] !== '-' && a[0] !== '!';
  }

  take(): string {
    return this.argv[this.optind++]!;
  }
}
