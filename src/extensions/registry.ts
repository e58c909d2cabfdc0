/**
 * The one table of extensions: name -> definition, built from every file of matches/ and targets/ (see
 * index.generated.ts). Matches and targets live in separate namespaces, as in iptables (mark/MARK, tos/TOS
 * differ only in case). Adding `-m foo` is adding matches/foo.ts; nothing here changes.
 */
import type { AnyMatch, AnyTarget } from './spec';
import { MATCH_MODULES, TARGET_MODULES } from './index.generated';

function collect<T extends AnyMatch | AnyTarget>(modules: readonly Record<string, unknown>[], kind: T['kind']): T[] {
  const out: T[] = [];
  for (const mod of modules) {
    for (const value of Object.values(mod)) {
      if (value && typeof value === 'object' && (value as { kind?: unknown }).kind === kind && !out.includes(value as T)) {
        out.push(value as T);
      }
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const MATCHES = collect<AnyMatch>(MATCH_MODULES, 'match');
const TARGETS = collect<AnyTarget>(TARGET_MODULES, 'target');

function index<T extends { name: string; aliases?: readonly string[] }>(list: readonly T[]): Map<string, T> {
  const m = new Map<string, T>();
  for (const e of list) {
    if (m.has(e.name)) throw new Error(`extension ${e.name} is defined twice`);
    m.set(e.name, e);
    for (const a of e.aliases ?? []) m.set(a, e);
  }
  return m;
}

const matchIndex = index(MATCHES);
const targetIndex = index(TARGETS);

export function findMatch(name: string): AnyMatch | undefined {
  return matchIndex.get(name);
}

export function findTarget(name: string): AnyTarget | undefined {
  return targetIndex.get(name);
}

export function allMatches(): readonly AnyMatch[] {
  return MATCHES;
}

export function allTargets(): readonly AnyTarget[] {
  return TARGETS;
}

/**
 * ` -m NAME` / ` -j NAME` (a word of its own, as a canonical rule line spells it) for every name, aliases
 * included, of the matches and targets `pick` chooses; a pattern that never matches when none is chosen. Lets a
 * caller skip rules that cannot use such an extension without parsing them (a quoted value that holds the words
 * only costs the parse).
 */
export function extensionWords(pick: (d: AnyMatch | AnyTarget) => boolean): RegExp {
  const words: string[] = [];
  for (const d of MATCHES) if (pick(d)) for (const n of [d.name, ...(d.aliases ?? [])]) words.push(`-m ${n}`);
  for (const d of TARGETS) if (pick(d)) for (const n of [d.name, ...(d.aliases ?? [])]) words.push(`-j ${n}`);
  const escape = (w: string): string => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return words.length === 0 ? /(?!)/g : new RegExp(` (?:${words.map(escape).join('|')})(?= |$)`, 'g');
}
