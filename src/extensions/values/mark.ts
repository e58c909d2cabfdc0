/**
 * Mark values as iptables 1.8.9 parses and prints them: XTTYPE_MARKMASK32 (xtables_parse_val_mask without a
 * name map: "bad integer value" / "trailing garbage" messages, which differ from the wording of later
 * releases) and printf("0x%x").
 */
import { paramProblem } from '../../messages';
import { xtStrtoui } from './cstrtoul';

/** XTTYPE_MARKMASK32: `value[/mask]`, each a C number within 32 bits; the mask 0xffffffff when absent. */
export function parseValMask(ext: string, opt: string, arg: string): { mark: number; mask: number } {
  const bad = () => paramProblem(`${ext}: bad integer value for option "--${opt}", or out of range.\n`);
  const garbage = () => paramProblem(`${ext}: trailing garbage after value for option "--${opt}".\n`);
  const v = xtStrtoui(arg, 0, 0xffffffff);
  if (!v) throw bad();
  if (v.end === arg.length) return { mark: v.value, mask: 0xffffffff };
  if (arg[v.end] !== '/') throw garbage();
  const m = xtStrtoui(arg, 0, 0xffffffff, v.end + 1);
  if (!m) throw bad();
  if (m.end !== arg.length) throw garbage();
  return { mark: v.value, mask: m.value };
}

/** printf("0x%x"). */
export function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}
