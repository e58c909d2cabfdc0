/**
 * libxtables' generic x6 checks for option tables in which several names share one id (aliases such as
 * --sport/--source-port, --ttl/--ttl-eq). libxtables looks an option up by its id, so every message names the
 * FIRST table entry with that id, and "once"/"excl"/"also" are bit tests on ids (xtoptions.c:
 * xtables_option_parse, xtables_options_fcheck). The core's generic checks go by option name; extensions with
 * aliases mark those options `multi` (so the core stays out of it) and call these instead.
 */
import { paramProblem } from '../../messages';

export interface X6Entry {
  name: string;
  id: number;
  /** Bit mask of ids this option excludes (x6 `excl`). */
  excl?: number;
  /** Bit mask of ids this option requires (x6 `also`). */
  also?: number;
  /** XTOPT_INVERT. Only consulted by `use()`; the flags of the first entry of an id count. */
  invert?: boolean;
}

export class X6Table {
  constructor(
    readonly ext: string,
    readonly entries: readonly X6Entry[],
  ) {}

  private entry(name: string): X6Entry {
    const e = this.entries.find((x) => x.name === name);
    if (!e) throw new Error(`${this.ext}: no option --${name}`);
    return e;
  }

  id(name: string): number {
    return this.entry(name).id;
  }

  /** The name libxtables shows for an id: the first entry carrying it (xtables_option_lookup). */
  primary(id: number): string {
    const e = this.entries.find((x) => x.id === id);
    if (!e) throw new Error(`${this.ext}: no option with id ${id}`);
    return e.name;
  }

  /** xtables_option_parse()'s double-use test; returns the flags with this option's id added. */
  once(flags: number, name: string): number {
    const id = this.id(name);
    if (flags & (1 << id)) throw paramProblem(`${this.ext}: option "--${this.primary(id)}" can only be used once.\n`);
    return flags | (1 << id);
  }

  /**
   * once() then the `!` test, in xtables_option_parse()'s order, for tables whose options are all declared
   * invertible to the core (so that the core's name-based `!` test stays out of it).
   */
  use(flags: number, name: string, inverted: boolean): number {
    const out = this.once(flags, name);
    const first = this.primary(this.id(name));
    if (inverted && !this.entry(first).invert) throw paramProblem(`${this.ext}: option "--${first}" cannot be inverted.\n`);
    return out;
  }

  /** xtables_options_fcheck(): in table order, each given option's `also` and `excl` by ascending id. */
  fcheck(flags: number): void {
    for (const e of this.entries) {
      if (!(flags & (1 << e.id))) continue;
      for (let i = 0; i < 32; i++) {
        if (i === e.id) continue;
        if (!this.entries.some((x) => x.id === i)) continue;
        const other = this.primary(i);
        if ((e.also ?? 0) & (1 << i) && !(flags & (1 << i))) {
          throw paramProblem(`${this.ext}: option "--${e.name}" also requires "--${other}".\n`);
        }
        if ((e.excl ?? 0) & (1 << i) && flags & (1 << i)) {
          throw paramProblem(`${this.ext}: option "--${e.name}" cannot be used together with "--${other}".\n`);
        }
      }
    }
  }
}
