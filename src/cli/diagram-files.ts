/**
 * Writes the --html, --svg and --dot pictures of a trace (src/diagram) to their files, or to stdout for `-`.
 * Shared by the single-host trace and the lab trace.
 */
import { writeFileSync } from 'node:fs';
import type { DiagramInput } from '../diagram/model';
import { renderHtml } from '../diagram/html';
import { renderSvg } from '../diagram/svg';
import { renderDot } from '../diagram/dot';

export interface DiagramFiles {
  html: string | undefined;
  svg: string | undefined;
  dot: string | undefined;
}

/** Writes each picture asked for; returns the error of a file that cannot be written. */
export function writeDiagrams(
  files: DiagramFiles,
  stdout: (text: string) => void,
  d: { inputs: DiagramInput[]; title: string; subtitle: string; footnote: string | undefined },
): string | undefined {
  const outputs: Array<[string | undefined, string, () => string]> = [
    [files.html, '--html', () => renderHtml(d.inputs, { title: d.title, subtitle: d.subtitle, footnote: d.footnote })],
    [files.svg, '--svg', () => renderSvg(d.inputs, { title: d.title })],
    [files.dot, '--dot', () => renderDot(d.inputs, { title: d.title })],
  ];
  for (const [file, opt, render] of outputs) {
    if (file === undefined) continue;
    const text = render();
    if (file === '-') {
      stdout(text);
      continue;
    }
    try {
      writeFileSync(file, text);
    } catch (e) {
      const code = (e as { code?: string }).code;
      return `${opt} ${file}: ${code === 'ENOENT' ? 'No such file or directory' : code === 'EACCES' ? 'Permission denied' : code === 'EISDIR' ? 'Is a directory' : (e as Error).message}`;
    }
  }
  return undefined;
}
