/**
 * The one table of extensions: name -> definition. Matches and targets live in separate namespaces, as in
 * iptables (mark/MARK, tos/TOS, ... differ only in case). Add an extension: write its file, add one line here.
 */
import type { AnyMatch, AnyTarget } from './spec';
import comment from './matches/comment';
import tcp from './matches/tcp';
import { ACCEPT, DROP, QUEUE, RETURN } from './targets/standard';

const MATCHES: readonly AnyMatch[] = [comment, tcp];

const TARGETS: readonly AnyTarget[] = [ACCEPT, DROP, QUEUE, RETURN];

function index<T extends { name: string; aliases?: readonly string[] }>(list: readonly T[]): Map<string, T> {
  const m = new Map<string, T>();
  for (const e of list) {
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
