import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { DashboardAssetsMissingError } from './errors.ts'

/** One file of the dashboard, read once and served from memory. */
export interface DashboardAsset {
  /** The file name, as it appears after `/dashboard/` (`app.js`, `dashboard.css`). */
  readonly name: string
  readonly contentType: string
  readonly body: Buffer
  /** A strong validator: the SHA-256 of the body, quoted. */
  readonly etag: string
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
}

/** The page itself; every other asset is named by the file it came from. */
export const DASHBOARD_PAGE = 'index.html'

/**
 * The Content-Security-Policy the page is served with: scripts, styles and requests only from
 * the node itself, no inline script or style, no plugins, no framing, no form posts elsewhere.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/**
 * Reads the dashboard's files: the hand-written page and stylesheet in `public/` and the
 * compiled modules in `dist/browser/`. Only these names are ever served (an allowlist built
 * from the folders at load time), so no request path reaches the file system.
 *
 * @param root - the package folder; defaults to the installed package's own.
 * @throws DashboardAssetsMissingError when the package was not built.
 */
export function loadDashboardAssets(root?: string): ReadonlyMap<string, DashboardAsset> {
  const packageRoot = root ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
  const assets = new Map<string, DashboardAsset>()
  for (const folder of [path.join(packageRoot, 'public'), path.join(packageRoot, 'dist', 'browser')]) {
    let names: string[]
    try {
      names = readdirSync(folder)
    } catch (error) {
      throw new DashboardAssetsMissingError(
        `the dashboard's assets are missing (${folder}: ${(error as Error).message}); build the project first`,
      )
    }
    for (const name of names) {
      const contentType = CONTENT_TYPES[path.extname(name)]
      if (contentType === undefined) continue
      const body = readFileSync(path.join(folder, name))
      const etag = `"${createHash('sha256').update(body).digest('base64url')}"`
      assets.set(name, { name, contentType, body, etag })
    }
  }
  if (!assets.has(DASHBOARD_PAGE) || !assets.has('app.js'))
    throw new DashboardAssetsMissingError(
      `the dashboard's page or its entry module is missing under ${packageRoot}; build the project first`,
    )
  return assets
}
