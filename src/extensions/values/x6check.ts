/**
 * xtables_options_fcheck() for extensions whose own x6_fcheck must run first: libxtables calls the
 * extension's check before the generic one (xtables_option_mfcall), so such an extension declares no
 * mandatory/also/excludes in its OptionDef table and calls this at the end of its finalCheck instead, with
 * its option table in the C order and each option's C id.
 */
import { paramProblem } from '../../messages';

export interface X6Entry {
  name: string;
  /** The option's id in the C enum (the order fcheck2 walks the other options in). */
  id: number;
  mandatory?: boolean;
  /** Names of options this one needs (`.also`). */
  also?: readonly string[];
  /** Names of options this one excludes (`.excl`). */
  excl?: readonly string[];
}

export function x6Fcheck(ext: string, table: readonly X6Entry[], given: ReadonlySet<string>): void {
  const byId = [...table].sort((a, b) => a.id - b.id);
  for (const entry of table) {
    if (entry.mandatory && !given.has(entry.name)) throw paramProblem(`${ext}: option "--${entry.name}" must be specified\n`);
    if (!given.has(entry.name)) continue;
    for (const other of byId) {
      if (other === entry) continue;
      if (entry.also?.includes(other.name) && !given.has(other.name)) {
        throw paramProblem(`${ext}: option "--${entry.name}" also requires "--${other.name}".\n`);
      }
      if (entry.excl?.includes(other.name) && given.has(other.name)) {
        throw paramProblem(`${ext}: option "--${entry.name}" cannot be used together with "--${other.name}".\n`);
      }
    }
  }
}
