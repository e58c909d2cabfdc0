/** Replaying a recorded nft corpus step (fixtures/nft/recorded) through tsiptables: shared by the unit and live suites. */
import type { Step } from '../../scripts/fixture-format';
import type { RunResult } from '../../src/cli/main';
import { runIptables, runRestore, runSave } from '../../src/cli/main';
import { runNft, runRestoreTranslate, runTranslate } from '../../src/cli/nft';

/**
 * One recorded step run by tsiptables: `nft ...` as `tsiptables nft ...`, `iptables-translate` as `tsiptables
 * translate`, `iptables`/`iptables-save`/`iptables-restore` as tsiptables on the same state file.
 */
export async function replayStep(step: Step, state: string): Promise<RunResult> {
  if (step.argv[0] === 'iptables-translate') return runTranslate(step.argv.slice(1));
  if (step.argv[0] === 'iptables-restore-translate') {
    // The run's date, as its header printed it (ctime, local time).
    const when = /^# Translated by .* on (.*)$/m.exec(step.stdout)?.[1];
    return runRestoreTranslate(step.argv.slice(1), () => step.stdin ?? '', when !== undefined ? new Date(when) : new Date());
  }
  if (step.argv[0] === 'iptables') return runIptables('iptables', step.argv.slice(1), state);
  if (step.argv[0] === 'iptables-restore') return runRestore('iptables-restore', step.argv.slice(1), () => step.stdin ?? '', state);
  if (step.argv[0] === 'iptables-save') return runSave('iptables-save', step.argv.slice(1), new Date(), state);
  return runNft(step.argv.slice(1), () => step.stdin ?? '', state);
}

/** What tsiptables prints on stderr for a step: iptables-translate's messages name tsiptables-translate. */
export function expectedStderr(step: Step): string {
  if (step.argv[0] === 'iptables-translate') return step.stderr.replace(/iptables-translate/g, 'tsiptables-translate');
  // Its messages name tsiptables-restore-translate, its usage text the real program.
  if (step.argv[0] === 'iptables-restore-translate') return step.stderr.replace(/\biptables-translate-restore\b/g, 'tsiptables-translate-restore');
  return step.stderr;
}

