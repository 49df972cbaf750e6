import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserAvailable, launchBrowser, type TestBrowser } from './harness/browser.ts'
import { type ServerProcess, startServerProcess, tempDir } from './harness/server-process.ts'

// The dashboard of a standalone node in a real browser (docs/dashboard.md): log in, the same
// page without the cluster parts, an index view with a working search box.

const MASTER = 'dashboard-standalone-master-key'

/** What the page must never do: throw, or have something refused by its own CSP. */
function seriousProblems(browser: TestBrowser): string[] {
  return browser.problems.filter((p) => p.startsWith('uncaught:') || /Content.Security.Policy/i.test(p))
}

describe.runIf(browserAvailable())('the dashboard of a standalone node, in Chromium', () => {
  let server: ServerProcess
  let scratch: { dir: string; remove: () => Promise<void> }
  let browser: TestBrowser

  beforeAll(async () => {
    scratch = await tempDir('shoal-dash-standalone-')
    server = await startServerProcess(path.join(scratch.dir, 'data'), ['--master-key', MASTER])
    const call = (method: string, route: string, body?: unknown) =>
      fetch(`${server.url}${route}`, {
        method,
        headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }).then((r) => r.json() as Promise<{ taskUid: number }>)
    await call('PATCH', '/indexes/films/settings', { filterableAttributes: ['genre'] })
    const { taskUid } = await call('POST', '/indexes/films/documents', [
      { id: 1, title: 'The lighthouse keeper', genre: 'drama' },
      { id: 2, title: 'Lighthouse at dawn', genre: 'documentary' },
      { id: 3, title: 'River songs', genre: 'drama' },
    ])
    for (;;) {
      const task = (await fetch(`${server.url}/tasks/${taskUid}`, {
        headers: { authorization: `Bearer ${MASTER}` },
      }).then((r) => r.json())) as { status: string }
      if (task.status === 'succeeded') break
      if (task.status === 'failed') throw new Error('the documents were not added')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    browser = await launchBrowser()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await server?.stop()
    await scratch?.remove()
  })

  it('refuses a wrong key on the login form and keeps the key out of localStorage', async () => {
    const { page } = browser
    await page.goto(`${server.url}/dashboard`)
    await page.fill('#api-key', 'not-the-key')
    await page.click('#login button[type=submit]')
    await expect.poll(() => page.textContent('#login-error')).toMatch(/refused the key/)
    expect(await page.evaluate('localStorage.length')).toBe(0)
    expect(await page.evaluate('sessionStorage.length')).toBe(0)
  })

  it('logs in and shows this node and its charts, without the cluster parts', async () => {
    const { page } = browser
    await page.fill('#api-key', MASTER)
    await page.click('#login button[type=submit]')
    await page.waitForSelector('#this-node')
    expect(await page.getAttribute('#node-label', 'data-mode')).toBe('standalone')
    expect(await page.getAttribute('#health', 'data-status')).toBe('green')
    expect(await page.locator('#charts svg polyline[data-series=searches]').count()).toBe(1)
    expect(await page.locator('#nodes').count()).toBe(0)
    expect(await page.locator('#shard-map').count()).toBe(0)
    expect(await page.evaluate("sessionStorage.getItem('shoal.dashboard.apiKey')")).toBe(MASTER)
    await browser.screenshot('standalone-overview')
  })

  it('shows an index with its stats and tasks, and searches it with hits, facets and timings', async () => {
    const { page } = browser
    await page.click('nav a[href="#/indexes"]')
    await page.click('#index-list a:text("films")')
    await expect.poll(() => page.textContent('[data-stat=documents]')).toBe('3')
    await page.waitForSelector('#index-tasks tr.task-succeeded')
    await page.fill('#search-form input[name=q]', 'lighthouse')
    await page.click('#search-form button')
    await page.waitForSelector('#search-results')
    expect(await page.locator('#search-results .hit').count()).toBe(2)
    expect(await page.textContent('.search-timing')).toMatch(
      /2 hits · \d+ ms on the node · \d+ ms round trip/,
    )
    expect(await page.textContent('.facet[data-facet=genre]')).toMatch(/drama \(1\)/)
    await browser.screenshot('standalone-index-search')
    expect(seriousProblems(browser)).toEqual([])
  })
})
