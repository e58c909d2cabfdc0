/**
 * osf match (iptables-extensions: "osf"): [!] --genre string (mandatory, char[32]), --ttl 0-2, --log 0-2.
 * libxt_osf saves the genre bare (`--genre Mac OS`), which does not read back: the state file quotes it. The
 * kernel match is TCP only and works in PREROUTING, INPUT and FORWARD (recorded in ext-osf.json).
 */
import { defineMatch } from '../spec';
import { parseX6Uint } from '../option-types';
import { needsQuotes, restoreWord, truncateBytes } from '../values/cstring';

const F_INVERT = 1;
const F_TTL = 2;
const F_LOG = 4;

export interface OsfState {
  genre: string;
  flags: number;
  ttl: number;
  loglevel: number;
}

function text(s: OsfState, word: (g: string) => string): string {
  let out = `${s.flags & F_INVERT ? ' !' : ''} --genre ${word(s.genre)}`;
  if (s.flags & F_TTL) out += ` --ttl ${s.ttl}`;
  if (s.flags & F_LOG) out += ` --log ${s.loglevel}`;
  return out;
}

export default defineMatch<OsfState>({
  kind: 'match',
  name: 'osf',
  manSection: 'osf',
  style: 'x6',
  requiresProtocol: 6,
  hooks: ['PREROUTING', 'INPUT', 'FORWARD'],
  help: `OS fingerprint match options:
[!] --genre string     Match a OS genre by passive fingerprinting.
--ttl level            Use some TTL check extensions to determine OS:
       0                       true ip and fingerprint TTL comparison. Works for LAN.
       1                       check if ip TTL is less than fingerprint one. Works for global addresses.
       2                       do not compare TTL at all. This allows NMAP detection, but can produce false results.
--log level            Log determined genres into dmesg even if they do not match desired one:
       0                       log all matched or unknown signatures.
       1                       log only first one.
       2                       log all known matched signatures.
`,
  options: [
    { name: 'genre', arg: 'required', invert: true, mandatory: true },
    { name: 'ttl', arg: 'required' },
    { name: 'log', arg: 'required' },
  ],
  init: () => ({ genre: '', flags: 0, ttl: 0, loglevel: 0 }),
  parse(s, use) {
    if (use.name === 'genre') {
      s.genre = truncateBytes(use.value!, 31);
      if (use.inverted) s.flags |= F_INVERT;
    } else if (use.name === 'ttl') {
      s.ttl = parseX6Uint('osf', 'ttl', use.value!, 0, 2);
      s.flags |= F_TTL;
    } else {
      s.loglevel = parseX6Uint('osf', 'log', use.value!, 0, 2);
      s.flags |= F_LOG;
    }
  },
  save: (s) => text(s, (g) => g),
  stateText: (s) => (needsQuotes(s.genre) ? text(s, restoreWord) : undefined),
  print: (s) => ` OS fingerprint match ${s.flags & F_INVERT ? '! ' : ''}${s.genre}`,
  // xt_osf_match_packet() / nf_osf_match(): the genre is compared with the fingerprints loaded through
  // nfnetlink_osf (nfnl_osf -f pf.os); the simulation loads none, so no packet is recognised and nothing
  // matches, `!` or not.
  match: () => false,
  explain: (s) => `${text(s, (g) => g).trim()}: no OS fingerprints are loaded`,
});
