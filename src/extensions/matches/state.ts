/**
 * state match (iptables-extensions: "state"). In iptables 1.8.9 it is the conntrack match (revision 1-3) with
 * the state-alias flag: only --state, the five conntrack states (no SNAT/DNAT), printed as `state ...`.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { packetStateBits, stateBit, stateText } from './conntrack';

const STATE_NAMES = ['INVALID', 'NEW', 'ESTABLISHED', 'RELATED', 'UNTRACKED'] as const;

/** state_parse_states(): like --ctstate, but an empty last word has its own message. */
function parseStates(arg: string): number {
  let mask = 0;
  let rest = arg;
  for (let comma = rest.indexOf(','); comma >= 0; comma = rest.indexOf(',')) {
    const bit = comma === 0 ? 0 : stateBit(rest.slice(0, comma), STATE_NAMES);
    if (!bit) throw paramProblem(`Bad state "${rest}"`);
    mask |= bit;
    rest = rest.slice(comma + 1);
  }
  if (rest === '') {
    throw paramProblem('"--state" requires a list of states with no spaces, e.g. ESTABLISHED,RELATED');
  }
  const bit = stateBit(rest, STATE_NAMES);
  if (!bit) throw paramProblem(`Bad state "${rest}"`);
  return mask | bit;
}

export interface StateState {
  mask: number;
  inverted: boolean;
}

export default defineMatch<StateState>({
  kind: 'match',
  needsConntrack: true,
  name: 'state',
  manSection: 'state',
  style: 'x6',
  help: `state match options:
 [!] --state [INVALID|ESTABLISHED|NEW|RELATED|UNTRACKED][,...]
				State(s) to match
`,
  options: [{ name: 'state', arg: 'required', invert: true, mandatory: true }],
  init: () => ({ mask: 0, inverted: false }),
  parse(s, use) {
    s.mask = parseStates(use.value!);
    s.inverted = use.inverted;
  },
  save: (s) => `${s.inverted ? ' !' : ''} --state ${stateText(s.mask)}`,
  print: (s) => `${s.inverted ? ' !' : ''} state ${stateText(s.mask)}`,
  // iptables 1.8.9 sends -m state as the conntrack match with only XT_CONNTRACK_STATE (xt_conntrack.c
  // conntrack_mt()): any of the wanted bits, then `!`; nothing else is tested, with or without a connection.
  match: (s, ctx) => ((s.mask & packetStateBits(ctx, false)) !== 0) !== s.inverted,
  explain: (s, ctx) => `${s.inverted ? '! ' : ''}--state ${stateText(s.mask)}: connection is ${stateText(packetStateBits(ctx, false))}`,
});
