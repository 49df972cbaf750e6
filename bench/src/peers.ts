import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'

/** The peers a suite compares with, by the package that provides them. */
export interface PeerPackages {
  /** npm packages, resolved from the suite's own package (its node_modules). */
  npm?: readonly string[]
  /** Debian packages, read with dpkg-query. */
  debian?: readonly string[]
}

/**
 * Exact installed versions, keyed `npm:<name>` and `debian:<name>`. A package
 * that is not installed reads `absent` (a smoke run may skip a missing peer;
 * the suite decides whether a full run may go on without it).
 */
export function peerVersions(peers: PeerPackages, suiteFile: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of peers.npm ?? []) out[`npm:${name}`] = npmVersion(name, suiteFile) ?? 'absent'
  for (const name of peers.debian ?? []) out[`debian:${name}`] = debianVersion(name) ?? 'absent'
  return out
}

function npmVersion(name: string, fromFile: string): string | null {
  // Walk up from the suite's folder, as Node's resolution does, to the package's own package.json.
  let folder = path.dirname(fromFile)
  for (;;) {
    const manifest = path.join(folder, 'node_modules', name, 'package.json')
    if (existsSync(manifest)) {
      const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown }
      return typeof parsed.version === 'string' ? parsed.version : null
    }
    const parent = path.dirname(folder)
    if (parent === folder) return null
    folder = parent
  }
}

function debianVersion(name: string): string | null {
  try {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own field syntax
    const out = execFileSync('dpkg-query', ['-W', '-f=${Status}\t${Version}', name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    const [status = '', version = ''] = out.split('\t')
    return status.endsWith(' installed') && version !== '' ? version : null
  } catch {
    return null
  }
}
