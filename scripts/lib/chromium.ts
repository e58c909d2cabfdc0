/**
 * Debian's Chromium driven by puppeteer-core (which brings no browser of its own): the executable, the flags
 * for a headless run as root in a container, and the router lab's trace page as `tsiptables trace --html -`
 * writes it. Used by the browser test (test/live/diagram-browser.test.ts) and `npm run screenshot`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { runTrace } from '../../src/cli/trace';

export const CHROMIUM = process.env['TSIPTABLES_CHROMIUM'] ?? '/usr/bin/chromium';

/** Headless, no sandbox (root), no GPU, /tmp instead of a small /dev/shm, and no background traffic. */
export const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--no-first-run', '--hide-scrollbars', '--font-render-hinting=none'];

export function haveChromium(): boolean {
  return existsSync(CHROMIUM);
}

export async function launchChromium(): Promise<Browser> {
  return puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/**
 * The HTML page of the router lab's batch, as `tsiptables trace --batch packets.txt --html -` prints it; `root`
 * is the repository (callers run as ES modules or under Jest, so each says where it is).
 */
export async function routerLabPage(root: string): Promise<string> {
  // Relative to the working directory, as a person would type them (the page shows them under its title).
  const lab = (f: string): string => relative(process.cwd(), join(root, 'fixtures', 'examples', 'router-lab', f));
  const r = await runTrace(['--rules', lab('rules.txt'), '--host', lab('host.txt'), '--batch', lab('packets.txt'), '--name', 'router', '--html', '-'], {
    stdin: () => readFileSync(0, 'utf8'),
    isTTY: false,
    env: {},
  });
  if (!r.stdout.startsWith('<!DOCTYPE html>')) throw new Error(`tsiptables trace --html - failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/**
 * The HTML page of one packet through the bundled router-nat lab (`tsiptables trace --lab
 * fixtures/labs/router-nat.sh --from boxA -p tcp -d 10.0.1.1 --dport 8800 --html -`): three lanes (boxA,
 * router, boxB), the SYN crossing them through DNAT and MASQUERADE and the SYN-ACK coming back.
 */
export async function routerNatLabPage(root: string): Promise<string> {
  const lab = relative(process.cwd(), join(root, 'fixtures', 'labs', 'router-nat.sh'));
  const r = await runTrace(['--lab', lab, '--from', 'boxA', '-p', 'tcp', '-d', '10.0.1.1', '--dport', '8800', '--html', '-'], {
    stdin: () => '',
    isTTY: false,
    env: {},
  });
  if (!r.stdout.startsWith('<!DOCTYPE html>')) throw new Error(`tsiptables trace --lab --html - failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
