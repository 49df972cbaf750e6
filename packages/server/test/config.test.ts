import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, DEFAULT_CONFIG, parseHttpAddr, readTomlConfig, resolveConfig } from '../src/index.ts'

describe('configuration', () => {
  it('defaults to ./shoal-data on 127.0.0.1:7700 with a 100 MiB payload limit', () => {
    const config = resolveConfig({})
    expect(config).toMatchObject({
      dataDir: './shoal-data',
      httpAddr: '127.0.0.1:7700',
      payloadLimitBytes: 104_857_600,
    })
    expect(config.rateLimit.requestsPerSecond).toBe(0)
    expect(DEFAULT_CONFIG.sync).toBe('always')
  })

  it('takes the TOML file, then environment variables, then flags, in that order of precedence', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-config-'))
    try {
      const file = path.join(dir, 'shoal.toml')
      await writeFile(
        file,
        'data_dir = "/from/file"\nhttp_addr = "127.0.0.1:7001"\nlog_level = "warn"\nrate_limit_per_second = 5\n',
      )
      const config = resolveConfig({
        file: await readTomlConfig(file),
        env: { SHOAL_HTTP_ADDR: '127.0.0.1:7002', SHOAL_LOG_LEVEL: 'error' },
        flags: { 'log-level': 'debug' },
      })
      expect(config.dataDir).toBe('/from/file')
      expect(config.httpAddr).toBe('127.0.0.1:7002')
      expect(config.logLevel).toBe('debug')
      expect(config.rateLimit).toEqual({ requestsPerSecond: 5, burst: 10 })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses a non-loopback address without a master key unless told to allow it', () => {
    expect(() => resolveConfig({ flags: { 'http-addr': '0.0.0.0:7700' } })).toThrow(ConfigError)
    expect(
      resolveConfig({ flags: { 'http-addr': '0.0.0.0:7700', 'allow-insecure': true } }).allowInsecure,
    ).toBe(true)
    expect(
      resolveConfig({ flags: { 'http-addr': '0.0.0.0:7700', 'master-key': 'x'.repeat(16) } }).masterKey,
    ).toBe('x'.repeat(16))
    expect(resolveConfig({ flags: { 'http-addr': '[::1]:7700' } }).httpAddr).toBe('[::1]:7700')
  })

  it('rejects bad values with the source named', async () => {
    expect(() => resolveConfig({ env: { SHOAL_PAYLOAD_LIMIT_BYTES: 'lots' } })).toThrow(
      /SHOAL_PAYLOAD_LIMIT_BYTES/,
    )
    expect(() => resolveConfig({ file: { data_dri: 'x' } })).toThrow(/unknown key `data_dri`/)
    expect(() => resolveConfig({ flags: { 'master-key': 'short' } })).toThrow(/16 bytes/)
    expect(() => parseHttpAddr('7700')).toThrow(ConfigError)
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-config-'))
    await writeFile(path.join(dir, 'bad.toml'), 'data_dir = ')
    await expect(readTomlConfig(path.join(dir, 'bad.toml'))).rejects.toThrow(/not valid TOML/)
    await rm(dir, { recursive: true, force: true })
  })

  it('takes the default matching strategy, last unless told any, and refuses another', () => {
    expect(resolveConfig({}).defaultMatchingStrategy).toBe('last')
    expect(resolveConfig({ flags: { 'default-matching-strategy': 'any' } }).defaultMatchingStrategy).toBe(
      'any',
    )
    expect(resolveConfig({ env: { SHOAL_DEFAULT_MATCHING_STRATEGY: 'any' } }).defaultMatchingStrategy).toBe(
      'any',
    )
    expect(() => resolveConfig({ file: { default_matching_strategy: 'all' } })).toThrow(ConfigError)
  })

  it('reads the shipped example configuration as the defaults', async () => {
    const file = await readTomlConfig(new URL('../shoal.example.toml', import.meta.url).pathname)
    expect(resolveConfig({ file })).toEqual(resolveConfig({}))
  })

  it('takes the anti-entropy interval from its flag, file key or variable, and refuses one out of range', () => {
    expect(resolveConfig({}).cluster.antiEntropyIntervalMs).toBe(600_000)
    expect(resolveConfig({ flags: { 'anti-entropy-interval-ms': '0' } }).cluster.antiEntropyIntervalMs).toBe(
      0,
    )
    expect(resolveConfig({ file: { anti_entropy_interval_ms: 5000 } }).cluster.antiEntropyIntervalMs).toBe(
      5000,
    )
    expect(
      resolveConfig({ env: { SHOAL_ANTI_ENTROPY_INTERVAL_MS: '60000' } }).cluster.antiEntropyIntervalMs,
    ).toBe(60_000)
    for (const value of ['500', '-1', '999999999999'])
      expect(() => resolveConfig({ flags: { 'anti-entropy-interval-ms': value } })).toThrow(ConfigError)
  })

  it('gathers node labels from the TOML table, SHOAL_LABELS and repeated --label flags, later overriding', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'shoal-config-'))
    try {
      const file = path.join(dir, 'shoal.toml')
      await writeFile(file, 'labels = { disk = "hdd", rack = "r1" }\n')
      const config = resolveConfig({
        file: await readTomlConfig(file),
        env: { SHOAL_LABELS: 'disk=ssd,tier=warm' },
        flags: { label: ['tier=hot', 'team=search'] },
      })
      expect(config.cluster.labels).toEqual({ disk: 'ssd', rack: 'r1', tier: 'hot', team: 'search' })
      expect(resolveConfig({}).cluster.labels).toEqual({})
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses malformed labels, and region or zone given as labels', () => {
    for (const flags of [
      { label: ['tier'] },
      { label: ['=hot'] },
      { label: ['tier='] },
      { label: ['bad key=x'] },
      { label: ['region=eu'] },
    ])
      expect(() => resolveConfig({ flags }), JSON.stringify(flags)).toThrow(ConfigError)
    expect(() => resolveConfig({ file: { labels: ['tier=hot'] } })).toThrow(/table of label values/)
    expect(() => resolveConfig({ file: { labels: { tier: 3 } } })).toThrow(ConfigError)
  })

  it('takes node capabilities from the TOML array, SHOAL_CAPABILITIES and --capabilities, bm25,vector by default', () => {
    expect(resolveConfig({}).cluster.capabilities).toEqual(['bm25', 'vector'])
    expect(resolveConfig({ file: { capabilities: ['bm25'] } }).cluster.capabilities).toEqual(['bm25'])
    expect(
      resolveConfig({ file: { capabilities: ['bm25'] }, env: { SHOAL_CAPABILITIES: 'bm25,vector,embed' } })
        .cluster.capabilities,
    ).toEqual(['bm25', 'vector', 'embed'])
    expect(
      resolveConfig({ env: { SHOAL_CAPABILITIES: 'bm25' }, flags: { capabilities: 'coordinator' } }).cluster
        .capabilities,
    ).toEqual(['coordinator'])
  })

  it('refuses unknown capabilities, a coordinator holding data, and a data node without bm25', () => {
    expect(() => resolveConfig({ flags: { capabilities: 'bm25,gpu' } })).toThrow(
      /unknown node capability `gpu`/,
    )
    expect(() => resolveConfig({ flags: { capabilities: 'coordinator,bm25' } })).toThrow(/holds no data/)
    expect(() => resolveConfig({ flags: { capabilities: 'vector' } })).toThrow(/needs capability `bm25`/)
    expect(() => resolveConfig({ flags: { capabilities: ',' } })).toThrow(ConfigError)
    expect(() => resolveConfig({ file: { capabilities: 'bm25' } })).not.toThrow()
  })
})
