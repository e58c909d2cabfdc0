/**
 * `npm run screenshot`: renders the router lab's trace page (`tsiptables trace --batch packets.txt --html -`) in
 * Debian's Chromium and writes docs/router-lab-trace.png, the README's picture: the lab's TCP connection through
 * DNAT and MASQUERADE, its lane of three packets and the first packet's netfilter picture down to the rule that
 * accepted it. Needs /usr/bin/chromium (apt-get install chromium).
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CHROMIUM, haveChromium, launchChromium, routerLabPage, routerNatLabPage } from './lib/chromium';

/** The browser globals the clip function uses (the project compiles without the DOM library). */
interface PageRect {
  top: number;
  bottom: number;
}
declare const window: { scrollY: number };
declare const document: {
  documentElement: { clientWidth: number };
  querySelector(sel: string): { getBoundingClientRect(): PageRect } | null;
  querySelectorAll(sel: string): Iterable<{ getBoundingClientRect(): PageRect }>;
};

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'docs', 'router-lab-trace.png');
/** The lab picture: one packet through fixtures/labs/router-nat.sh, its lanes (boxA, router, boxB). */
const LAB_OUT = path.join(ROOT, 'docs', 'router-nat-lab-lanes.png');
const WIDTH = 1200;

async function main(): Promise<void> {
  if (!haveChromium()) {
    process.stderr.write(`screenshot: ${CHROMIUM} is not installed (apt-get install chromium)\n`);
    process.exitCode = 2;
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'tsi-shot-'));
  const browser = await launchChromium();
  try {
    const file = path.join(dir, 'router-lab.html');
    writeFileSync(file, await routerLabPage(ROOT));
    const page = await browser.newPage();
    await page.setViewport({ width: WIDTH, height: 1000, deviceScaleFactor: 1 });
    await page.setRequestInterception(true);
    page.on('request', (req) => void (req.url().startsWith('file:') ? req.continue() : req.abort()));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    // From the connection's heading to the end of the first packet's filter FORWARD listing (the accepting rule).
    const clip = await page.evaluate(() => {
      const top = document.querySelector('#f1')!.getBoundingClientRect().top + window.scrollY;
      const end = document.querySelector('#f1-h0 .walk[data-table="filter"][data-hook="FORWARD"]')!.getBoundingClientRect();
      return { x: 0, y: top, width: document.documentElement.clientWidth, height: end.bottom + window.scrollY - top + 8 };
    });
    const png = await page.screenshot({ type: 'png', clip, captureBeyondViewport: true });
    writeFileSync(OUT, png);
    process.stdout.write(`${path.relative(ROOT, OUT)}: ${Math.round(clip.width)}x${Math.round(clip.height)}, ${png.length} bytes\n`);

    // The lab: from the page's title to the last host crossing (the lanes).
    const labFile = path.join(dir, 'router-nat-lab.html');
    writeFileSync(labFile, await routerNatLabPage(ROOT));
    await page.goto(pathToFileURL(labFile).href, { waitUntil: 'load' });
    const labClip = await page.evaluate(() => {
      const cards = [...document.querySelectorAll('.hop-card')];
      const bottom = Math.max(...cards.map((c) => c.getBoundingClientRect().bottom)) + window.scrollY;
      return { x: 0, y: 0, width: document.documentElement.clientWidth, height: bottom + 12 };
    });
    const labPng = await page.screenshot({ type: 'png', clip: labClip, captureBeyondViewport: true });
    writeFileSync(LAB_OUT, labPng);
    process.stdout.write(`${path.relative(ROOT, LAB_OUT)}: ${Math.round(labClip.width)}x${Math.round(labClip.height)}, ${labPng.length} bytes\n`);
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`screenshot: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
