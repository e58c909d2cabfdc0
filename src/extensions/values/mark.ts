/**
 * Value parsers of the mark targets (MARK, CONNMARK) and the NAT port syntax: libxtables' strtoui with an
 * end pointer, and XTTYPE_MARKMASK32 as iptables 1.8.9 parses it (xtables_parse_val_mask: "bad integer
 * value" / "trailing garbage" messages, which differ from the wording of later releases).
 */
import { strtoul } from '../../model/cnum';
import { paramProblem } from '../../messages';

/**
 * xtables_strtoui(s, &end, &v, min, max): a C number (base 0) at the start of `s`, any rest allowed.
 * Returns the value and the index where parsing stopped, or null (no digits, a leading '-', overflow, range).
 */
export function strtouiPrefix(s: string, min: number, max: number, start = 0): { value: number; end: number } | null {
  const r = strtoul(s, 0, start);
  if (!r || r.overflow) return null;
  if (r.value < BigInt(min) || r.value > BigInt(max)) return null;
  return { value: Number(r.value), end: r.end };
}

/** XTTYPE_MARKMASK32: `value[/mask]`, the mask 0xffffffff when absent. */
export function parseValMask(ext: string, opt: string, arg: string): { mark: number; mask: number } {
  const bad = () => paramProblem(`${ext}: bad integer value for option "--${opt}", or out of range.\n`);
  const garbage = () => paramProblem(`${ext}: trailing garbage after value for option "--${opt}".\n`);
  const v = strtouiPrefix(arg, 0, 0xffffffff);
  if (!v) throw bad();
  if (v.end === arg.length) return { mark: v.value, mask: 0xffffffff };
  if (arg[v.end] !== '/') throw garbage();
  const m = strtouiPrefix(arg, 0, 0xffffffff, v.end + 1);
  if (!m) throw bad();
  if (m.end !== arg.length) throw garbage();
  return { mark: v.value, mask: m.value };
}

/** printf("0x%x"). */
export function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}
