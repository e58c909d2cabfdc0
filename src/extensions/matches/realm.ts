/**
 * realm match (iptables-extensions: "realm", libipt_realm): [!] --realm value[/mask] (mandatory), numbers or
 * names of /etc/iproute2/rt_realms (the recording host has only 0 "cosmos"). The kernel match (xt_realm) works
 * in INPUT, FORWARD, OUTPUT and POSTROUTING only: PREROUTING, or a jump there to a chain using it, is refused.
 */
import { defineMatch } from '../spec';
import { parseValMaskMap, valMaskText, type Lmap } from './devgroup';

const REALMS: Lmap = [[0, 'cosmos']];

export interface RealmState {
  id: number;
  mask: number;
  inverted: boolean;
}

const saveText = (s: RealmState): string => `${s.inverted ? ' !' : ''} --realm${valMaskText(s.id, s.mask, REALMS)}`;

export default defineMatch<RealmState>({
  kind: 'match',
  name: 'realm',
  manSection: 'realm',
  style: 'x6',
  hooks: ['INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  help: `realm match options:
[!] --realm value[/mask]
				Match realm
`,
  options: [{ name: 'realm', arg: 'required', invert: true, mandatory: true }],
  init: () => ({ id: 0, mask: 0xffffffff, inverted: false }),
  parse(s, use) {
    const { val, mask } = parseValMaskMap('realm', 'realm', use.value!, REALMS);
    s.id = val;
    s.mask = mask;
    if (use.inverted) s.inverted = true;
  },
  save: saveText,
  print: (s, numeric) => `${s.inverted ? ' !' : ''} realm${valMaskText(s.id, s.mask, numeric ? undefined : REALMS)}`,
  // realm_mt() of xt_realm.c: (id == (dst->tclassid & mask)) ^ invert. Simulated routes carry no realm: 0.
  match: (s) => (s.id === (0 & s.mask)) !== s.inverted,
  explain: (s) => `${saveText(s).trim()}: the route has realm 0`,
});
