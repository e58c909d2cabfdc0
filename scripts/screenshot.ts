/**
 * `npm run screenshot`: renders the router lab's trace page (`tsiptables trace --batch packets.txt --html -`) in
 * Debian's Chromium and writes docs/router-lab-trace.png, the README's picture: the lab's TCP connection through
 * DNAT and MASQUERADE, its lane of three packets and the first packet's netfilter picture down to the rule that
 * accepted it. Also docs/router-nat-lab-lanes.png (the router-nat lab's lanes) and docs/stateless-nat-lb.png (the
 * stateless NAT lab's ping on the lb: nft chains among the iptables tables, the netdev ingress rewrite).
 * `npm run screenshot -- NAME...` takes only the named ones (router-lab, router-nat, stateless-nat).
 * Needs /usr/bin/chromium (apt-get install chromium).
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { relative } from 'node:path';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CHROMIUM, haveChromium, launchChromium, routerLabPage, routerNatLabPage } from './lib/chromium';
import { runTrace } from '../src/cli/trace';

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
/** The nft picture: the stateless NAT lab's ping to 10.0.1.1, the lb's netfilter picture and its facts. */
const NFT_OUT = path.join(ROOT, 'docs', 'stateless-nat-lb.png');
const WIDTH = 1200;
const PICTURES = ['router-lab', 'router-nat', 'stateless-nat'];

/** `tsiptables trace --lab fixtures/labs/stateless-nat.sh --from client -p icmp -d 10.0.1.1 --html -`. */
async function statelessNatPage(): Promise<string> {
  const lab = relative(process.cwd(), path.join(ROOT, 'fixtures', 'labs', 'stateless-nat.sh'));
  const r = await runTrace(['--lab', lab, '--from', 'client', '-p', 'icmp', '-d', '10.0.1.1', '--html', '-'], { stdin: () => '', isTTY: false, env: {} });
  if (!r.stdout.startsWith('<!DOCTYPE html>')) throw new Error(`tsiptables trace --lab --html - failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

async function main(): Promise<void> {
  if (!haveChromium()) {
    process.stderr.write(`screenshot: ${CHROMIUM} is not installed (apt-get install chromium)\n`);
    process.exitCode = 2;
    return;
  }
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !PICTURES.includes(w));
  if (unknown.length) {
    process.stderr.write(`screenshot: no picture named ${unknown.join(', ')} (there are ${PICTURES.join(', ')})\n`);
    process.exitCode = 2;
    return;
  }
  const take = (name: string): boolean => wanted.length === 0 || wanted.includes(name);
  const dir = mkdtempSync(path.join(tmpdir(), 'tsi-shot-'));
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: WIDTH, height: 1000, deviceScaleFactor: 1 });
    await page.setRequestInterception(true);
    page.on('request', (req) => void (req.url().startsWith('file:') ? req.continue() : req.abort()));
    if (take('router-lab')) {
      const file = path.join(dir, 'router-lab.html');
      writeFileSync(file, await routerLabPage(ROOT));
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
    }

    // The lab: from the page's title to the last host crossing (the lanes).
    if (take('router-nat')) {
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
    }

    // The stateless NAT lab: the lb's hop (#2, the request) from its heading to its facts.
    if (take('stateless-nat')) {
      const nftFile = path.join(dir, 'stateless-nat.html');
      writeFileSync(nftFile, await statelessNatPage());
      await page.goto(pathToFileURL(nftFile).href, { waitUntil: 'load' });
      const nftClip = await page.evaluate(() => {
        const top = document.querySelector('#f0-h1')!.getBoundingClientRect().top + window.scrollY;
        const end = document.querySelector('#f0-h1 .facts')!.getBoundingClientRect();
        return { x: 0, y: top, width: document.documentElement.clientWidth, height: end.bottom + window.scrollY - top + 8 };
      });
      const nftPng = await page.screenshot({ type: 'png', clip: nftClip, captureBeyondViewport: true });
      writeFileSync(NFT_OUT, nftPng);
      process.stdout.write(`${path.relative(ROOT, NFT_OUT)}: ${Math.round(nftClip.width)}x${Math.round(nftClip.height)}, ${nftPng.length} bytes\n`);
    }
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`screenshot: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
