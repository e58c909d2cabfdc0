/**
 * One recorder at a time: a lock file holding the holder's pid, created exclusively; a lock whose pid is gone is
 * taken over, a live one is waited for (a second at a time) until `waitMinutes` have passed.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export function pidLock(file: string, waitMinutes: number, who: string): () => void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const deadline = Date.now() + waitMinutes * 60_000;
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch {
      const pid = Number(fs.readFileSync(file, 'utf8').trim());
      let alive = false;
      try {
        process.kill(pid, 0);
        alive = pid > 0;
      } catch {
        alive = false;
      }
      if (!alive) fs.rmSync(file, { force: true });
      else if (Date.now() > deadline) throw new Error(`another ${who} (pid ${pid}) holds ${file}`);
      else spawnSync('sleep', ['1']);
    }
  }
}
