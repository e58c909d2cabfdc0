/** The canonical text of a rule as iptables-save and -S print it (nft_ipv4_save_rule, save_matches_and_target). */
import { addrToString, maskToSaveString, type AddrMask } from '../model/ip';
import type { Rule } from '../model/ruleset';
import { protoToName } from '../extensions/option-types';

function saveAddr(letter: string, a: AddrMask, inv: boolean): string {
  if (a.mask === 0 && !inv && a.addr === 0) return '';
  return `${inv ? ' !' : ''} -${letter} ${addrToString(a.addr)}/${maskToSaveString(a.mask)}`;
}

function saveIface(letter: string, iface: string, inv: boolean): string {
  if (iface.length > 0 && (iface !== '+' || inv)) return `${inv ? ' !' : ''} -${letter} ${iface}`;
  return '';
}

export function ruleMatchText(r: Rule): string {
  const ip = r.ip;
  let out = saveAddr('s', ip.src, ip.inv.src) + saveAddr('d', ip.dst, ip.inv.dst);
  out += saveIface('i', ip.inIface, ip.inv.inIface) + saveIface('o', ip.outIface, ip.inv.outIface);
  if (ip.proto > 0) {
    out += `${ip.inv.proto ? ' !' : ''} -p ${protoToName(ip.proto, false) ?? String(ip.proto)}`;
  }
  if (ip.fragment) out += `${ip.inv.fragment ? ' !' : ''} -f`;
  for (const m of r.matches) {
    out += ` -m ${m.def.saveName ? m.def.saveName(m.state) : m.def.name}${m.def.save(m.state)}`;
  }
  return out;
}

export function ruleTargetText(r: Rule): string {
  const v = r.verdict;
  switch (v.kind) {
    case 'none':
      return '';
    case 'target': {
      const d = v.target.def;
      return ` -j ${d.saveName ? d.saveName(v.target.state) : d.name}${d.save(v.target.state)}`;
    }
    case 'jump':
      return ` -j ${v.chain}`;
    case 'goto':
      return ` -g ${v.chain}`;
  }
}

/** The target column of -L: the extension's name, the chain jumped to, or nothing. */
export function ruleTargetName(r: Rule): string {
  const v = r.verdict;
  if (v.kind === 'target') return v.target.def.name;
  if (v.kind === 'jump' || v.kind === 'goto') return v.chain;
  return '';
}

/**
 * The rule text for our state file: iptables-save prints interface names bare, so `-i 'a b'` (accepted with a
 * warning) would not read back; here such names are quoted the way iptables-restore unquotes them.
 */
export function restorableText(r: Rule): string {
  const { inIface, outIface } = r.ip;
  if (!/[\s"\\]/.test(inIface + outIface)) return r.text;
  const q = (s: string): string => (/[\s"\\]/.test(s) ? `"${s.replace(/(["\\])/g, '\\$1')}"` : s);
  return ruleMatchText({ ...r, ip: { ...r.ip, inIface: q(inIface), outIface: q(outIface) } });
}
