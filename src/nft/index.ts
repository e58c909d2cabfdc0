/** The nftables side: text in (a file or a command line), a new ruleset and the text nft would print out. */
import { parseNft } from '../../grammar/nft/index';
import { runBatch } from './apply';
import { NftError, formatNftError } from './errors';
import { NftRuleset } from './model';
import { rulesetText } from './print';

export { NftRuleset } from './model';
export { rulesetText } from './print';

export type NftOutcome = { ok: true; ruleset: NftRuleset; output: string } | { ok: false; stderr: string };

/** Runs nft text against `base`. `sourceName` is the file name nft shows (`/dev/stdin` for `-f -`), undefined for argv. */
export function runNftText(text: string, base: NftRuleset, sourceName: string | undefined): NftOutcome {
  const lines = text.split('\n');
  const parsed = parseNft(text);
  if (!parsed.ok) return { ok: false, stderr: formatNftError(new NftError(parsed.error.message, parsed.error.loc), { name: sourceName, lines }) };
  try {
    const r = runBatch(parsed.statements, base);
    return { ok: true, ruleset: r.ruleset, output: r.output };
  } catch (e) {
    if (e instanceof NftError) return { ok: false, stderr: formatNftError(e, { name: sourceName, lines }) };
    throw e;
  }
}

/** The ruleset a stored `nft list ruleset` text describes (empty when there is none). */
export function rulesetFromText(text: string | undefined): NftRuleset {
  if (text === undefined || text === '') return new NftRuleset();
  const r = runNftText(text, new NftRuleset(), 'state');
  if (!r.ok) throw new Error(`stored nft ruleset does not read back: ${r.stderr}`);
  return r.ruleset;
}

export { rulesetText as printRuleset };
