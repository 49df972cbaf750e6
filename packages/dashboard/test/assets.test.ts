import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { DASHBOARD_CSP, DashboardAssetsMissingError, loadDashboardAssets } from '../src/index.ts'

describe('the dashboard assets', () => {
  it('loads the built page, stylesheet and modules with their content types', () => {
    // The package is built before tests run (`pnpm test` builds first).
    const assets = loadDashboardAssets(path.resolve(import.meta.dirname, '..'))
    expect(assets.get('index.html')?.contentType).toBe('text/html; charset=utf-8')
    expect(assets.get('dashboard.css')?.contentType).toBe('text/css; charset=utf-8')
    expect(assets.get('app.js')?.contentType).toBe('text/javascript; charset=utf-8')
    expect(assets.get('app.js')?.body.toString()).toMatch(/from ["']\.\/api\.js["']/)
    expect([...assets.keys()].every((name) => /^[\w.-]+\.(html|css|js)$/.test(name))).toBe(true)
  })

  it('refuses, with a typed error, a package whose assets were not built', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'shoal-dash-assets-'))
    try {
      await mkdir(path.join(root, 'public'))
      await writeFile(path.join(root, 'public', 'index.html'), '<!doctype html>')
      expect(() => loadDashboardAssets(root)).toThrow(DashboardAssetsMissingError)
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('allows scripts, styles and requests from the node only, and nothing inline', () => {
    expect(DASHBOARD_CSP).toContain("default-src 'none'")
    expect(DASHBOARD_CSP).toContain("script-src 'self'")
    expect(DASHBOARD_CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*/)
  })
})
