/**
 * libxtables 1.8.9 x6 value types that option-types.ts does not cover, with 1.8.9's exact wording
 * (xtoptions.c, xtables.c): XTTYPE_HOSTMASK, XTTYPE_PLEN, XTTYPE_UINT*RC (mint), XTTYPE_PORTRC (mport),
 * xtables_param_act(XTF_BAD_VALUE), and the option-id lookup behind libxtables' messages.
 */
import { paramProblem, type IptablesError } from '../../messages';
import type { OptionDef } from '../spec';
import { maskToCidr } from '../../model/ip';
import { xtStrtoul } from './cstrtoul';
import { getPortByName, inetAtonExact, parseX6Host } from './inet';

/** xtables_param_act(XTF_BAD_VALUE, ...): `EXT: Bad value for "OPT" option: "VAL"` (no trailing newline). */
export function badValueAct(ext: string, opt: string, value: string): IptablesError {
  return paramProblem(`${ext}: Bad value for "${opt}" option: "${value}"`);
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
 * xtables_option_lookup() by name: the FIRST entry of the table with this option's id, whose name libxtables
 * uses in every message (an alias such as --sport is reported as --source-port).
 */
export function primaryName(options: readonly OptionDef[], name: string): string {
  const idOf = (o: OptionDef): number => o.id ?? options.indexOf(o);
  const o = options.find((x) => x.name === name);
  if (!o) return name;
  const id = idOf(o);
  return options.find((x) => idOf(x) === id)!.name;
}
