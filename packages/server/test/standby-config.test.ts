import { describe, expect, it } from 'vitest'
import { ConfigError, resolveConfig } from '../src/index.ts'

// docs/standby.md, "Configuration": every standby flag works or is refused with a clear error.

const KEY = { SHOAL_CLUSTER_KEY: 'a-cluster-key-of-enough-bytes' }
const PRIMARY = '/ip4/127.0.0.1/tcp/7800/p2p/12D3KooWH8rLdGJv3EtocHWAFasRjKP14pGbMgHxJEbmSHwEV3HX'

function refused(flags: Record<string, string | boolean>, env: Record<string, string> = KEY): string {
  try {
    resolveConfig({ flags, env })
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as Error).message
  }
  throw new Error('accepted')
}

describe('hot standby configuration', () => {
  it('a primary takes a mode, and a standby the primary’s address; neither joins a cluster', () => {
    const primary = resolveConfig({ flags: { 'standby-mode': 'semi_sync' }, env: KEY })
    expect(primary.standby).toMatchObject({
      mode: 'semi_sync',
      semiSyncOnTimeout: 'block',
      semiSyncTimeoutMs: 5000,
    })
    expect(primary.cluster.enabled).toBe(false)
    const standby = resolveConfig({ flags: { 'standby-of': PRIMARY }, env: KEY })
    expect(standby.standby.of).toBe(PRIMARY)
    expect(standby.cluster.enabled).toBe(false)
  })

  it('the config file and the environment set the same fields', () => {
    const config = resolveConfig({
      file: { standby_mode: 'semi_sync', semi_sync_on_timeout: 'fail' },
      env: { ...KEY, SHOAL_SEMI_SYNC_TIMEOUT_MS: '2500' },
    })
    expect(config.standby).toMatchObject({
      mode: 'semi_sync',
      semiSyncOnTimeout: 'fail',
      semiSyncTimeoutMs: 2500,
    })
  })

  it('refuses a standby role without the cluster key', () => {
    expect(refused({ 'standby-mode': 'async' }, {})).toMatch(/needs the cluster key/)
    expect(refused({ 'standby-of': PRIMARY }, {})).toMatch(/needs the cluster key/)
  })

  it('refuses both roles at once, unknown modes and a malformed primary address', () => {
    expect(refused({ 'standby-mode': 'async', 'standby-of': PRIMARY })).toMatch(/not both/)
    expect(refused({ 'standby-mode': 'sync' })).toMatch(/off, async or semi_sync/)
    expect(refused({ 'standby-of': '127.0.0.1:7800' })).toMatch(/not the primary's libp2p address/)
  })

  it('refuses semi_sync options outside semi_sync, and out-of-range values', () => {
    expect(refused({ 'standby-mode': 'async', 'semi-sync-on-timeout': 'fail' })).toMatch(/semi_sync only/)
    expect(refused({ 'semi-sync-timeout-ms': '1000' })).toMatch(/semi_sync only/)
    expect(refused({ 'standby-mode': 'semi_sync', 'semi-sync-on-timeout': 'wait' })).toMatch(/block or fail/)
    expect(refused({ 'standby-mode': 'semi_sync', 'semi-sync-timeout-ms': '10' })).toMatch(/100 to 600000/)
  })

  it('refuses cluster membership and cluster-only settings beside a standby role', () => {
    expect(refused({ 'standby-mode': 'async', bootstrap: true })).toMatch(/--join or --bootstrap/)
    expect(refused({ 'standby-of': PRIMARY, join: '127.0.0.1:7946' })).toMatch(/--join or --bootstrap/)
    expect(refused({ 'standby-mode': 'async', zone: 'a' })).toMatch(/--zone/)
  })

  it('takes a witness on either role, and refuses it alone, malformed, or with a lease out of range', () => {
    const WITNESS = PRIMARY.replace('7800', '7900')
    const primary = resolveConfig({ flags: { 'standby-mode': 'async', witness: WITNESS }, env: KEY })
    expect(primary.standby).toMatchObject({ witness: WITNESS, witnessLeaseMs: 3000 })
    expect(refused({ witness: WITNESS })).toMatch(/for a primary .* or a standby/)
    expect(refused({ 'standby-of': PRIMARY, witness: '127.0.0.1:7900' })).toMatch(
      /not the witness's libp2p address/,
    )
    expect(refused({ 'standby-mode': 'async', 'witness-lease-ms': '1000' })).toMatch(/with --witness only/)
    expect(refused({ 'standby-mode': 'async', witness: WITNESS, 'witness-lease-ms': '100' })).toMatch(
      /300 to 60000/,
    )
  })
})
