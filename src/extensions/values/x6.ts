/**
 * libxtables 1.8.9 x6 value types that option-types.ts does not cover, with 1.8.9's exact wording
 * (xtoptions.c, xtables.c): XTTYPE_HOSTMASK, XTTYPE_PLEN, XTTYPE_UINT32RC (mint), XTTYPE_PORTRC (mport),
 * XTTYPE_MARKMASK32 (xtables_parse_val_mask), xtables_param_act(XTF_BAD_VALUE), and the generic final
 * check (xtables_options_fcheck) for extensions whose checks must run in libxtables' order or share an id.
 */
import { paramProblem, type IptablesError } from '../../messages';
import { maskToCidr } from '../../model/ip';
import { strtoul } from '../../model/cnum';
import { getPortByName, inetAtonExact, parseX6Host } from './inet';

/** xtables_param_act(XTF_BAD_VALUE, ...): `EXT: Bad value for "OPT" option: "VAL"` (no trailing newline). */
export function badValueAct(ext: string, opt: string, value: string): IptablesError {
  return paramProblem(`${ext}: Bad value for "${opt}" option: "${value}"`);
}

/**
 * xtables_strtoul() with an end pointer: leading blanks, no '-', base 0, [min, max]. Returns the value and the
 * index after the digits, or null (no digits, overflow, out of range).
 */
export function xtStrtoul(s: string, min: bigint, max: bigint, start = 0): { value: bigint; end: number } | null {
  const r = strtoul(s, 0, start);
  if (!r || r.overflow || r.value < min || r.value > max) return null;
  return { value: r.value, end: r.end };
}

/**
 * xtopt_parse_plen(): a prefix length 0..32, or a dotted mask (getaddrinfo AI_NUMERICHOST). A mask that is
 * not contiguous gives 255, as the uint8_t hlen holds xtables_ipmask_to_cidr()'s -1.
 */
export function parseX6Plen(ext: string, opt: string, arg: string): number {
  const n = xtStrtoul(arg, 0n, 32n);
  if (n && n.end === arg.length) return Number(n.value);
  const mask = inetAtonExact(arg);
  if (mask !== null) {
    const c = maskToCidr(mask);
    return c < 0 ? 255 : c;
  }
  throw paramProblem(`${ext}: bad value for option "--${opt}", neither a valid network mask nor valid CIDR (0-32).\n`);
}

/** xtopt_parse_plenmask() of 1.8.9: a prefix length as a mask; an hlen above 32 leaves the mask all ones. */
export function plenToMask(hlen: number): number {
  if (hlen === 0) return 0;
  if (hlen <= 32) return (0xffffffff << (32 - hlen)) >>> 0;
  return 0xffffffff;
}

/** XTTYPE_HOSTMASK: "host[/plen|/mask]". The address is kept unmasked. */
export function parseX6HostMask(ext: string, opt: string, arg: string): { addr: number; mask: number } {
  const slash = arg.indexOf('/');
  if (slash < 0) return { addr: parseX6Host(arg), mask: 0xffffffff };
  const addr = parseX6Host(arg.slice(0, slash));
  return { addr, mask: plenToMask(parseX6Plen(ext, opt, arg.slice(slash + 1))) };
}

/**
 * xtopt_parse_mint() of 1.8.9 (XTTYPE_UINT*RC): "a", "a:b", ":b", "a:" ... up to two numbers within [0, lmax];
 * an empty component is 0 (first) or lmax (second). Returns the values read (1 or 2).
 */
export function parseX6Mint(ext: string, opt: string, arg: string, lmax: bigint): bigint[] {
  const out: bigint[] = [];
  let pos = 0;
  for (;;) {
    if (out.length === 2) throw paramProblem(`${ext}: Too many components for option "--${opt}" (max: 2)\n`);
    let end: number;
    let value: bigint;
    if (pos >= arg.length || arg[pos] === ':') {
      end = pos;
      value = out.length === 1 ? lmax : 0n;
    } else {
      const r = xtStrtoul(arg, 0n, lmax, pos);
      if (!r) {
        throw paramProblem(`${ext}: bad value for option "--${opt}" near "${arg.slice(pos)}", or out of range (0-${lmax}).\n`);
      }
      end = r.end;
      value = r.value;
      if (end < arg.length && arg[end] !== ':') {
        throw paramProblem(`${ext}: Argument to "--${opt}" has unexpected characters near "${arg.slice(end)}".\n`);
      }
    }
    out.push(value);
    if (end >= arg.length) break;
    pos = end + 1;
  }
  return out;
}

/**
 * xtopt_parse_mport() of 1.8.9 (XTTYPE_PORTRC): "port", "lo:hi", "lo:", ":hi" with names or numbers; no order
 * check in 1.8.9. Returns [lo, hi] (a single port gives [p, p]).
 */
export function parseX6PortRange(ext: string, opt: string, arg: string): [number, number] {
  const range: [number, number] = [0, 0xffff];
  let nvals = 0;
  for (const part of arg.split(':')) {
    if (nvals === 2) throw paramProblem(`${ext}: Too many components for option "--${opt}" (max: 2)\n`);
    if (part !== '') {
      const v = getPortByName(part);
      if (v < 0) throw paramProblem(`Port "${part}" does not resolve to anything.\n`);
      range[nvals] = v;
    }
    nvals++;
  }
  if (nvals === 1) range[1] = range[0];
  return range;
}

/**
 * xtables_parse_val_mask() without a name map (XTTYPE_MARKMASK32 in 1.8.9): "value[/mask]", each a C number
 * within 32 bits; the mask defaults to 0xffffffff.
 */
export function parseX6MarkMask(ext: string, opt: string, arg: string): { value: number; mask: number } {
  const bad = (): IptablesError => paramProblem(`${ext}: bad integer value for option "--${opt}", or out of range.\n`);
  const garbage = (): IptablesError => paramProblem(`${ext}: trailing garbage after value for option "--${opt}".\n`);
  const v = xtStrtoul(arg, 0n, 0xffffffffn);
  if (!v) throw bad();
  if (v.end === arg.length) return { value: Number(v.value), mask: 0xffffffff };
  if (arg[v.end] !== '/') throw garbage();
  const m = xtStrtoul(arg, 0n, 0xffffffffn, v.end + 1);
  if (!m) throw bad();
  if (m.end !== arg.length) throw garbage();
  return { value: Number(v.value), mask: Number(m.value) };
}

/** One row of an x6 option table as xtables_options_fcheck() sees it: ids may be shared by several names. */
export interface X6Entry {
  name: string;
  id: number;
  mandatory?: boolean;
  /** Ids this option cannot be combined with (its own id may be listed: that is the "once" rule). */
  excl?: readonly number[];
  /** Ids this option also requires. */
  also?: readonly number[];
}

/** xtables_options_fcheck(): mandatory, also and excl in table order, over the ids that were given. */
export function x6Fcheck(ext: string, table: readonly X6Entry[], given: ReadonlySet<number>): void {
  const lookup = (id: number): X6Entry | undefined => table.find((e) => e.id === id);
  for (const e of table) {
    if (e.mandatory && !given.has(e.id)) throw paramProblem(`${ext}: option "--${e.name}" must be specified\n`);
    if (!given.has(e.id)) continue;
    for (let i = 0; i < 32; i++) {
      if (i === e.id) continue;
      const other = lookup(i);
      if (!other) continue;
      if (e.also?.includes(i) && !given.has(i)) {
        throw paramProblem(`${ext}: option "--${e.name}" also requires "--${other.name}".\n`);
      }
      if (e.excl?.includes(i) && given.has(i)) {
        throw paramProblem(`${ext}: option "--${e.name}" cannot be used together with "--${other.name}".\n`);
      }
    }
  }
}

/** The ids given, from the option names the core recorded. */
export function givenIds(table: readonly X6Entry[], names: ReadonlySet<string>): Set<number> {
  const out = new Set<number>();
  for (const e of table) if (names.has(e.name)) out.add(e.id);
  return out;
}
