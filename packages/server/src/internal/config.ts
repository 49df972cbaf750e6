import { readFile } from 'node:fs/promises'
import { parse as parseToml } from 'smol-toml'
import { ConfigError } from './errors.ts'
import type { RateLimitConfig } from './rate-limit.ts'

/**
 * The server's configuration. Sources, lowest precedence first: defaults, a
 * TOML file (`--config`), environment variables (`SHOAL_*`), command-line
 * flags. Every field has one name per source, listed in FIELDS below.
 */
export interface ServerConfig {
  /** Folder holding the engine's data, the task queue and the keys. @defaultValue './shoal-data' */
  dataDir: string
  /** `host:port` to listen on (`[v6]:port` for IPv6; port 0 picks a free one). @defaultValue '127.0.0.1:7700' */
  httpAddr: string
  /** Master key; without it the API is open and only loopback binds are allowed. */
  masterKey: string | undefined
  /** Serve without a master key on a non-loopback address. @defaultValue false */
  allowInsecure: boolean
  /** Largest request body accepted. @defaultValue 104_857_600 (100 MiB) */
  payloadLimitBytes: number
  /** Per-key rate limiting; `requestsPerSecond: 0` turns it off. @defaultValue { requestsPerSecond: 0, burst: 0 } */
  rateLimit: RateLimitConfig
  /** pino level: fatal, error, warn, info, debug, trace, silent. @defaultValue 'info' */
  logLevel: string
  /** fsync writes (engine WAL and task queue); 'none' is for tests and benchmarks. @defaultValue 'always' */
  sync: 'always' | 'none'
}

export const DEFAULT_CONFIG: Readonly<ServerConfig> = Object.freeze({
  dataDir: './shoal-data',
  httpAddr: '127.0.0.1:7700',
  masterKey: undefined,
  allowInsecure: false,
  payloadLimitBytes: 100 * 1024 * 1024,
  rateLimit: { requestsPerSecond: 0, burst: 0 },
  logLevel: 'info',
  sync: 'always',
})

type Kind = 'string' | 'boolean' | 'integer'

interface Field {
  toml: string
  env: string
  flag: string
  kind: Kind
  set(config: ServerConfig, value: string | boolean | number): void
}

/** Every configurable field with its TOML key, environment variable and flag. */
export const FIELDS: readonly Field[] = [
  {
    toml: 'data_dir',
    env: 'SHOAL_DATA_DIR',
    flag: 'data-dir',
    kind: 'string',
    set: (c, v) => (c.dataDir = String(v)),
  },
  {
    toml: 'http_addr',
    env: 'SHOAL_HTTP_ADDR',
    flag: 'http-addr',
    kind: 'string',
    set: (c, v) => (c.httpAddr = String(v)),
  },
  {
    toml: 'master_key',
    env: 'SHOAL_MASTER_KEY',
    flag: 'master-key',
    kind: 'string',
    set: (c, v) => (c.masterKey = String(v)),
  },
  {
    toml: 'allow_insecure',
    env: 'SHOAL_ALLOW_INSECURE',
    flag: 'allow-insecure',
    kind: 'boolean',
    set: (c, v) => (c.allowInsecure = v === true),
  },
  {
    toml: 'payload_limit_bytes',
    env: 'SHOAL_PAYLOAD_LIMIT_BYTES',
    flag: 'payload-limit-bytes',
    kind: 'integer',
    set: (c, v) => (c.payloadLimitBytes = Number(v)),
  },
  {
    toml: 'rate_limit_per_second',
    env: 'SHOAL_RATE_LIMIT_PER_SECOND',
    flag: 'rate-limit-per-second',
    kind: 'integer',
    set: (c, v) => (c.rateLimit.requestsPerSecond = Number(v)),
  },
  {
    toml: 'rate_limit_burst',
    env: 'SHOAL_RATE_LIMIT_BURST',
    flag: 'rate-limit-burst',
    kind: 'integer',
    set: (c, v) => (c.rateLimit.burst = Number(v)),
  },
  {
    toml: 'log_level',
    env: 'SHOAL_LOG_LEVEL',
    flag: 'log-level',
    kind: 'string',
    set: (c, v) => (c.logLevel = String(v)),
  },
  {
    toml: 'sync',
    env: 'SHOAL_SYNC',
    flag: 'sync',
    kind: 'string',
    set: (c, v) => (c.sync = String(v) as ServerConfig['sync']),
  },
]

export interface ConfigSources {
  /** Parsed TOML table (see `readTomlConfig`). */
  file?: Record<string, unknown>
  env?: Record<string, string | undefined>
  /** Flags as parsed by `node:util` `parseArgs` (names without `--`). */
  flags?: Record<string, string | boolean | undefined>
}

export async function readTomlConfig(filePath: string): Promise<Record<string, unknown>> {
  const text = await readFile(filePath, 'utf8').catch((error: unknown) => {
    throw new ConfigError(`cannot read config file ${filePath}: ${(error as Error).message}`)
  })
  try {
    return parseToml(text) as Record<string, unknown>
  } catch (error) {
    throw new ConfigError(`config file ${filePath} is not valid TOML: ${(error as Error).message}`)
  }
}

/** Merges the sources in precedence order and validates the result. */
export function resolveConfig(sources: ConfigSources): ServerConfig {
  const config: ServerConfig = { ...DEFAULT_CONFIG, rateLimit: { ...DEFAULT_CONFIG.rateLimit } }
  const known = new Set(FIELDS.map((f) => f.toml))
  for (const key of Object.keys(sources.file ?? {})) {
    if (!known.has(key)) throw new ConfigError(`unknown key \`${key}\` in the config file`)
  }
  let burstGiven = false
  for (const field of FIELDS) {
    const fromFile = sources.file?.[field.toml]
    const fromEnv = sources.env?.[field.env]
    const fromFlag = sources.flags?.[field.flag]
    for (const [origin, raw] of [
      [`config file key ${field.toml}`, fromFile],
      [`environment variable ${field.env}`, fromEnv],
      [`flag --${field.flag}`, fromFlag],
    ] as const) {
      if (raw === undefined || raw === '') continue
      field.set(config, coerce(raw, field.kind, origin))
      if (field.flag === 'rate-limit-burst') burstGiven = true
    }
  }
  if (!burstGiven) config.rateLimit.burst = config.rateLimit.requestsPerSecond * 2
  validate(config)
  return config
}

function coerce(raw: unknown, kind: Kind, origin: string): string | boolean | number {
  if (kind === 'boolean') {
    if (typeof raw === 'boolean') return raw
    if (raw === 'true' || raw === '1') return true
    if (raw === 'false' || raw === '0') return false
    throw new ConfigError(`${origin}: expected true or false, got ${String(raw)}`)
  }
  if (kind === 'integer') {
    const value = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : Number.NaN
    if (!Number.isInteger(value) || value < 0) {
      throw new ConfigError(`${origin}: expected a non-negative integer, got ${String(raw)}`)
    }
    return value
  }
  if (typeof raw !== 'string') throw new ConfigError(`${origin}: expected a string, got ${String(raw)}`)
  return raw
}

export interface ListenAddress {
  host: string
  port: number
}

export function parseHttpAddr(addr: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(addr)
  const port = Number(match?.[3])
  if (match === null || port > 65535) {
    throw new ConfigError(`http address \`${addr}\` is not host:port (IPv6 as [addr]:port)`)
  }
  return { host: match[1] ?? match[2] ?? '', port }
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

function validate(config: ServerConfig): void {
  const { host } = parseHttpAddr(config.httpAddr)
  if (config.masterKey !== undefined && Buffer.byteLength(config.masterKey) < 16) {
    throw new ConfigError('the master key must be at least 16 bytes long')
  }
  if (config.masterKey === undefined && !isLoopback(host) && !config.allowInsecure) {
    throw new ConfigError(
      `refusing to listen on ${config.httpAddr} without a master key: anyone who can reach it could read and ` +
        'change every index. Set --master-key (or SHOAL_MASTER_KEY), bind to 127.0.0.1, or pass --allow-insecure.',
    )
  }
  if (config.sync !== 'always' && config.sync !== 'none')
    throw new ConfigError('sync must be `always` or `none`')
  if (config.payloadLimitBytes < 1) throw new ConfigError('payload_limit_bytes must be at least 1')
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
  if (!levels.includes(config.logLevel))
    throw new ConfigError(`log level must be one of ${levels.join(', ')}`)
}
