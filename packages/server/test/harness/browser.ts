import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BrowserContext, chromium, type Page } from 'playwright-core'

/**
 * A real browser for the dashboard tests: the system's Chromium (Debian's `chromium` package,
 * which `.ci/run` installs when missing), driven by playwright-core. `SHOAL_CHROMIUM` names
 * another binary. Playwright's own browser download is never used.
 */
export const CHROMIUM = process.env.SHOAL_CHROMIUM ?? '/usr/bin/chromium'

/** Where the dashboard tests save their screenshots (ignored by git; see docs/dashboard.md). */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/dashboard/', import.meta.url))

export function browserAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true
  const line = '!'.repeat(78)
  console.warn(
    `\n${line}\n!! SKIPPED: the dashboard browser tests need Chromium at ${CHROMIUM}.\n` +
      '!! Install it (apt-get install chromium) or set SHOAL_CHROMIUM to a Chromium binary.\n' +
      `${line}\n`,
  )
  return false
}

export interface TestBrowser {
  readonly page: Page
  readonly context: BrowserContext
  /** Saves a full-page screenshot as `<ARTIFACTS>/<name>.png`. */
  screenshot(name: string): Promise<void>
  /** Messages the page logged as errors, and requests the page saw fail (CSP refusals among them). */
  readonly problems: string[]
  close(): Promise<void>
}

/** Launches headless Chromium with a fresh profile; `close` removes the profile. */
export async function launchBrowser(): Promise<TestBrowser> {
  const profile = await mkdtemp(path.join(tmpdir(), 'shoal-chromium-'))
  await mkdir(ARTIFACTS, { recursive: true })
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
    timeout: 30_000,
  })
  const page = context.pages()[0] ?? (await context.newPage())
  page.setDefaultTimeout(15_000)
  const problems: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text())
  })
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`))
  return {
    page,
    context,
    problems,
    async screenshot(name) {
      await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true })
    },
    async close() {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    },
  }
}
