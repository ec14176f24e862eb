// Launches Debian's Chromium through playwright-core (never a downloaded browser) with the flags that
// work on these machines: headless, no sandbox (we run as root), no background network traffic.
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function launchChromium(extraArgs = []) {
  const userDataDir = mkdtempSync(join(tmpdir(), 'localrec-chromium-'));
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', ...extraArgs],
  });
}
