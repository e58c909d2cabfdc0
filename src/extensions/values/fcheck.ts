/**
 * xtables_options_fcheck() (libxtables/xtoptions.c) for target extensions whose own x6_fcheck must speak
 * first: xtables_option_tfcall() runs the extension's check BEFORE the generic one, while the core runs its
 * generic checks before finalCheck. Such an extension declares no mandatory/excludes in its OptionDef table
 * and calls this at the end of its finalCheck, with the C option table (table order and C ids).
 */
import { paramProblem } from '../../messages';

export interface FcheckEntry {
  name: string;
  /** The option's id in the C enum: the order xtables_option_fcheck2() visits the other options in. */
  id: number;
  mandatory?: boolean;
  /** Options this one cannot be combined with (x6 `excl`), by name. */
  excl?: readonly string[];
  /** Options this one requires (x6 `also`), by name. */
  also?: readonly string[];
}

export function fcheck(ext: string, table: readonly FcheckEntry[], given: ReadonlySet<string>): void {
  const byId = [...table].sort((a, b) => a.id - b.id);
  for (const entry of table) {
    if (entry.mandatory && !given.has(entry.name)) throw paramProblem(`${ext}: option "--${entry.name}" must be specified\n`);
    if (!given.has(entry.name)) continue;
    for (const other of byId) {
      if (other.id === entry.id) continue;
      if (entry.also?.includes(other.name) && !given.has(other.name)) {
        throw paramProblem(`${ext}: option "--${entry.name}" also requires "--${other.name}".\n`);
      }
      if (entry.excl?.includes(other.name) && given.has(other.name)) {
        throw paramProblem(`${ext}: option "--${entry.name}" cannot be used together with "--${other.name}".\n`);
      }
    }
  }
}
