/** The canonical text of a rule as iptables-save and -S print it (nft_ipv4_save_rule, save_matches_and_target). */
import { addrToString, maskToSaveString, type AddrMask } from '../model/ip';
import type { Rule } from '../model/ruleset';

/** The parts of a rule its texts are made from. */
export type RuleParts = Pick<Rule, 'ip' | 'matches' | 'verdict'>;
import { protoToName } from '../extensions/option-types';

function saveAddr(letter: string, a: AddrMask, inv: boolean): string {
  if (a.mask === 0 && !inv && a.addr === 0) return '';
  return `${inv ? ' !' : ''} -${letter} ${addrToString(a.addr)}/${maskToSaveString(a.mask)}`;
}

function saveIface(letter: string, iface: string, inv: boolean): string {
  if (iface.length > 0 && (iface !== '+' || inv)) return `${inv ? ' !' : ''} -${letter} ${iface}`;
  return '';
}

/** The save text of the rule up to its target; `forState` uses the extensions' lossless stateText(). */
export function ruleMatchText(r: RuleParts, forState = false): string {
  const ip = r.ip;
  let out = saveAddr('s', ip.src, ip.inv.src) + saveAddr('d', ip.dst, ip.inv.dst);
  out += saveIface('i', ip.inIface, ip.inv.inIface) + saveIface('o', ip.outIface, ip.inv.outIface);
  if (ip.proto > 0) {
    out += `${ip.inv.proto ? ' !' : ''} -p ${protoToName(ip.proto, false) ?? String(ip.proto)}`;
  }
  if (ip.fragment) out += `${ip.inv.fragment ? ' !' : ''} -f`;
  for (const m of r.matches) {
    const text = (forState ? m.def.stateText?.(m.state) : undefined) ?? m.def.save(m.state);
    out += ` -m ${m.def.saveName ? m.def.saveName(m.state) : m.def.name}${text}`;
  }
  return out;
}

export function ruleTargetText(r: RuleParts, forState = false): string {
  const v = r.verdict;
  switch (v.kind) {
    case 'none':
      return '';
    case 'target': {
      const d = v.target.def;
      const text = (forState ? d.stateText?.(v.target.state) : undefined) ?? d.save(v.target.state);
      return ` -j ${d.saveName ? d.saveName(v.target.state) : d.name}${text}`;
    }
    case 'jump':
      return ` -j ${v.chain}`;
    case 'goto':
      return ` -g ${v.chain}`;
  }
}

/** The target column of -L: the extension's name, the chain jumped to, or nothing. */
export function ruleTargetName(r: RuleParts): string {
  const v = r.verdict;
  if (v.kind === 'target') return v.target.def.realName ?? v.target.def.name;
  if (v.kind === 'jump' || v.kind === 'goto') return v.chain;
  return '';
}

/**
 * The text the state file needs for this rule when the save text would not read back to the same rule, else
 * undefined. iptables-save prints interface names bare (`-i 'a b'` is accepted with a warning) and some
 * extension values lossily; here interface names are quoted the way iptables-restore unquotes them and the
 * extensions' stateText() is used.
 */
export function stateTextOf(r: RuleParts): string | undefined {
  const needsQuotes = (s: string): boolean => s === '' || /[\s"\\]/.test(s);
  const { inIface, outIface } = r.ip;
  const odd = (inIface !== '' && needsQuotes(inIface)) || (outIface !== '' && needsQuotes(outIface));
  const uses = [...r.matches, ...(r.verdict.kind === 'target' ? [r.verdict.target] : [])];
  const lossy = uses.some((u) => u.def.stateText?.(u.state) !== undefined);
  if (!odd && !lossy) return undefined;
  const q = (s: string): string => (s !== '' && needsQuotes(s) ? `"${s.replace(/(["\\])/g, '\\$1')}"` : s);
  const quoted: RuleParts = odd ? { ...r, ip: { ...r.ip, inIface: q(inIface), outIface: q(outIface) } } : r;
  return ruleMatchText(quoted, true) + ruleTargetText(quoted, true);
}
