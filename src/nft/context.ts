/** What reading a rule needs to know (its table, family, what is being read) and collects on the way. */
import type { Atom, NftLoc } from './ast';
import { NftError } from './errors';
import type { Family, NftTable } from './model';

export interface RuleContext {
  family: Family;
  table: NftTable;
  /** Counts the anonymous sets the rule creates (each takes a handle before the rule's). */
  anonymousSets?: { count: number; locs: NftLoc[] };
  /**
   * Reading nft's own listing back (the state file): `{ 1-11 }` stays a set. nft itself would read it as the
   * plain comparison `1-11`, so its listing is not always a fixed point of its reader; the stored one is.
   */
  listing?: boolean;
  /** What the kernel will refuse once the batch reaches it (its errors come after nft's own). */
  refusals?: NftError[];
}

export interface Parts {
  out: string[];
  comment: string | undefined;
  sawTransport: boolean;
}

export function lookupSet(ctx: RuleContext, a: Extract<Atom, { k: 'setref' }>): void {
  if (!ctx.table.sets.has(a.name)) throw new NftError('No such file or directory', a.loc);
}
