import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { Filter } from './engine-port.ts'
import { ApiError, badRequest, invalidApiKey } from './errors.ts'
import { fingerprint } from './secrets.ts'
import { writeFileDurably } from './task-log.ts'
import { looksLikeJwt, readClaims, ruleFor, verifySignature } from './tenant-token.ts'

/**
 * API keys as Meilisearch has them, with every action name a current
 * Meilisearch grants (a key made for one is accepted here, including actions
 * on routes Shoal does not serve, such as `network.*` and `chats.*`: they
 * grant nothing more than they name). A key's secret is never stored: it is
 * derived as hex(HMAC-SHA256(masterKey, uid)), so changing the master key
 * changes every key. The store (uids, actions, indexes, expiry) is one JSON
 * file written atomically.
 */

export const ACTIONS = [
  '*',
  'search',
  'documents.*',
  'documents.add',
  'documents.get',
  'documents.delete',
  'indexes.*',
  'indexes.create',
  'indexes.get',
  'indexes.update',
  'indexes.delete',
  'indexes.swap',
  'tasks.*',
  'tasks.get',
  'tasks.cancel',
  'tasks.delete',
  'settings.*',
  'settings.get',
  'settings.update',
  'stats.*',
  'stats.get',
  'metrics.*',
  'metrics.get',
  'dumps.*',
  'dumps.create',
  'snapshots.*',
  'snapshots.create',
  'export',
  'backups.*',
  'backups.create',
  'backups.get',
  'version',
  'keys.*',
  'keys.get',
  'keys.create',
  'keys.update',
  'keys.delete',
  'experimental.*',
  'experimental.get',
  'experimental.update',
  'webhooks.*',
  'webhooks.get',
  'webhooks.create',
  'webhooks.update',
  'webhooks.delete',
  'network.*',
  'network.get',
  'network.update',
  'chatCompletions',
  'chats.*',
  'chats.get',
  'chats.delete',
  'chatsSettings.*',
  'chatsSettings.get',
  'chatsSettings.update',
  'cluster.get',
  'cluster.update',
] as const

/** Actions only the master key may perform (no API key can be granted them, not even with `*`). */
const MASTER_ONLY_PREFIXES = ['cluster.']

export type Action = (typeof ACTIONS)[number]

export interface ApiKey {
  uid: string
  key: string
  name: string | null
  description: string | null
  actions: Action[]
  indexes: string[]
  expiresAt: string | null
  createdAt: string
  updatedAt: string
}

/** A key as stored: everything but its value, which derives from the master key. */
export type StoredKey = Omit<ApiKey, 'key'>

export interface KeyCreateInput {
  uid?: unknown
  name?: unknown
  description?: unknown
  actions?: unknown
  indexes?: unknown
  expiresAt?: unknown
}

/** What a request is allowed to do, once authenticated. */
export interface Grant {
  /** Whether an index uid is covered by the key's `indexes`. */
  allowsIndex(uid: string): boolean
  /** Whether every index is allowed (master key, or `indexes: ['*']`). */
  allIndexes: boolean
  /**
   * A tenant token's filter for searches on an index (ANDed to the request's
   * own); absent or null: none.
   */
  searchFilter?(uid: string): Filter | null
}

const OPEN_GRANT: Grant = { allowsIndex: () => true, allIndexes: true }

export function deriveKey(masterKey: string, uid: string): string {
  return createHmac('sha256', masterKey).update(uid).digest('hex')
}

/**
 * Where the key records live when a cluster shares them (cluster/cluster-keys.ts): the metadata,
 * so that a key created through one node works on every node.
 */
export interface SharedKeys {
  /** Brings this node's copy up to date (a read through the metadata leader). */
  catchUp(): Promise<void>
  /** Every key record as this node's copy holds it. */
  records(): readonly object[]
  /** Calls `listener` after each change of the records; returns the unsubscribe. */
  onChange(listener: () => void): () => void
  /** Commits a record; resolves once this node's copy holds it. */
  put(record: StoredKey): Promise<void>
  delete(uid: string): Promise<void>
}

export class KeyStore {
  private readonly keys = new Map<string, StoredKey>()
  private readonly bySecret = new Map<string, string>()
  /** The cluster's records, once shared: every change goes there, and this map follows them. */
  private shared: SharedKeys | null = null
  private writing: Promise<void> = Promise.resolve()

  private readonly file: string
  /** The master key: it authorizes everything and derives the key values `/keys` shows. */
  masterKey: string | undefined
  /**
   * Former (or future) master keys still accepted during a rotation: each
   * authorizes as the master key does, and the API key values and tenant
   * token signatures derived from it stay valid (docs/operations/rotate-keys.md).
   */
  private acceptedMasterKeys: readonly string[] = []

  private constructor(file: string, masterKey: string | undefined) {
    this.file = file
    this.masterKey = masterKey
  }

  /**
   * Changes the master key and the other master keys accepted, for every
   * request from now on. Without a master key nothing else may be accepted.
   */
  setMasterKeys(masterKey: string | undefined, accepted: readonly string[]): void {
    if (masterKey === undefined && accepted.length > 0)
      throw new Error('accepted master keys need a master key')
    this.masterKey = masterKey
    this.acceptedMasterKeys = accepted.filter((key) => key !== masterKey)
    this.bySecret.clear()
    for (const key of this.keys.values()) this.index(key)
  }

  /** Fingerprints of the master keys accepted besides the current one. */
  acceptedMasterKeyFingerprints(): string[] {
    return this.acceptedMasterKeys.map((key) => fingerprint(key))
  }

  /** Every master key accepted now, the current one first. */
  private allMasterKeys(): string[] {
    return this.masterKey === undefined ? [] : [this.masterKey, ...this.acceptedMasterKeys]
  }

  static async open(file: string, masterKey: string | undefined): Promise<KeyStore> {
    const store = new KeyStore(file, masterKey)
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null
      throw error
    })
    if (text !== null) for (const key of JSON.parse(text) as StoredKey[]) store.put(key)
    else if (masterKey !== undefined) await store.createDefaults()
    return store
  }

  /**
   * From now on keeps the keys in `shared`. When it holds none yet (a new cluster, or one made
   * from a standalone node), this node's keys are written there first; otherwise they replace
   * this node's (`keys.json` stays as a copy of them).
   */
  async share(shared: SharedKeys): Promise<void> {
    await shared.catchUp()
    if (shared.records().length === 0) for (const key of this.keys.values()) await shared.put(key)
    this.shared = shared
    shared.onChange(() => this.adopt())
    this.adopt()
  }

  private adopt(): void {
    if (this.shared === null) return
    this.keys.clear()
    this.bySecret.clear()
    for (const record of this.shared.records()) this.put({ ...(record as StoredKey) })
    // keys.json keeps a copy, written in the background: the cluster holds the keys durably.
    void this.persist().catch(() => {})
  }

  list(offset: number, limit: number): { results: ApiKey[]; offset: number; limit: number; total: number } {
    const all = [...this.keys.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt))
    return {
      results: all.slice(offset, offset + limit).map((k) => this.reveal(k)),
      offset,
      limit,
      total: all.length,
    }
  }

  get(keyOrUid: string): ApiKey {
    return this.reveal(this.find(keyOrUid))
  }

  async create(input: KeyCreateInput): Promise<ApiKey> {
    const now = new Date().toISOString()
    const uid = input.uid === undefined ? randomUUID() : validateUid(input.uid)
    if (this.keys.has(uid))
      throw new ApiError(
        409,
        'api_key_already_exists',
        `\`uid\` field value \`${uid}\` is already an existing API key.`,
      )
    if (input.actions === undefined) throw badRequest('missing_api_key_actions', 'Missing field `actions`')
    if (input.indexes === undefined) throw badRequest('missing_api_key_indexes', 'Missing field `indexes`')
    if (input.expiresAt === undefined)
      throw badRequest('missing_api_key_expires_at', 'Missing field `expiresAt`')
    const key: StoredKey = {
      uid,
      name: optionalString(input.name, 'invalid_api_key_name', 'name'),
      description: optionalString(input.description, 'invalid_api_key_description', 'description'),
      actions: validateActions(input.actions),
      indexes: validateIndexes(input.indexes),
      expiresAt: validateExpiresAt(input.expiresAt),
      createdAt: now,
      updatedAt: now,
    }
    if (this.shared !== null) await this.shared.put(key)
    this.put(key)
    await this.persist()
    return this.reveal(key)
  }

  async update(keyOrUid: string, input: Record<string, unknown>): Promise<ApiKey> {
    const key = this.find(keyOrUid)
    for (const field of Object.keys(input)) {
      if (field !== 'name' && field !== 'description') {
        throw badRequest(
          `immutable_api_key_${snake(field)}`,
          `The \`${field}\` field cannot be modified for the given resource.`,
        )
      }
    }
    const next: StoredKey = { ...key, updatedAt: new Date().toISOString() }
    if ('name' in input) next.name = optionalString(input.name, 'invalid_api_key_name', 'name')
    if ('description' in input) {
      next.description = optionalString(input.description, 'invalid_api_key_description', 'description')
    }
    if (this.shared !== null) await this.shared.put(next)
    this.put(next)
    await this.persist()
    return this.reveal(next)
  }

  async delete(keyOrUid: string): Promise<void> {
    const key = this.find(keyOrUid)
    if (this.shared !== null) await this.shared.delete(key.uid)
    this.keys.delete(key.uid)
    for (const master of this.allMasterKeys()) this.bySecret.delete(deriveKey(master, key.uid))
    await this.persist()
  }

  /**
   * Checks a bearer token for an action on an index (`null`: a route not tied
   * to one index). Without a master key everything is open except `/keys`.
   */
  authorize(token: string | undefined, action: Action, indexUid: string | null): Grant {
    if (this.masterKey === undefined) {
      if (action.startsWith('keys.') || MASTER_ONLY_PREFIXES.some((p) => action.startsWith(p))) {
        throw new ApiError(
          401,
          'missing_master_key',
          'Shoal is running without a master key. To access this API endpoint, you must have set a master key at launch.',
          'auth',
        )
      }
      return OPEN_GRANT
    }
    if (token === undefined || token === '') {
      throw new ApiError(
        401,
        'missing_authorization_header',
        'The Authorization header is missing. It must use the bearer authorization method.',
        'auth',
      )
    }
    if (this.allMasterKeys().some((master) => safeEqual(token, master))) return OPEN_GRANT
    if (MASTER_ONLY_PREFIXES.some((p) => action.startsWith(p))) throw invalidApiKey()
    if (!this.bySecret.has(token) && looksLikeJwt(token)) return this.authorizeTenant(token, action, indexUid)
    const uid = this.bySecret.get(token)
    const key = uid === undefined ? undefined : this.keys.get(uid)
    const invalid = invalidApiKey()
    if (key === undefined) throw invalid
    if (key.expiresAt !== null && Date.parse(key.expiresAt) <= Date.now()) throw invalid
    if (!allowsAction(key.actions, action)) throw invalid
    const grant: Grant = {
      allowsIndex: (index) => key.indexes.some((pattern) => matchesIndex(pattern, index)),
      allIndexes: key.indexes.includes('*'),
    }
    if (indexUid !== null && !grant.allowsIndex(indexUid)) throw invalid
    return grant
  }

  /**
   * A tenant token may only search, only indexes both its rules and its key
   * allow, and only while neither has expired; its rule's filter is ANDed to
   * each search. Anything wrong with it is the one `invalid_api_key` answer.
   */
  private authorizeTenant(token: string, action: Action, indexUid: string | null): Grant {
    const invalid = invalidApiKey()
    const claims = readClaims(token)
    if (claims === undefined || action !== 'search' || this.masterKey === undefined) throw invalid
    const key = this.keys.get(claims.apiKeyUid)
    if (
      key === undefined ||
      !this.allMasterKeys().some((master) => verifySignature(token, deriveKey(master, key.uid)))
    )
      throw invalid
    const now = Date.now()
    if (key.expiresAt !== null && Date.parse(key.expiresAt) <= now) throw invalid
    if (claims.exp !== undefined && claims.exp * 1000 <= now) throw invalid
    if (!allowsAction(key.actions, 'search')) throw invalid
    const allowsIndex = (index: string) =>
      key.indexes.some((pattern) => matchesIndex(pattern, index)) && ruleFor(claims.rules, index).allowed
    if (indexUid !== null && !allowsIndex(indexUid)) throw invalid
    return {
      allowsIndex,
      allIndexes: false,
      searchFilter: (index) => {
        const rule = ruleFor(claims.rules, index)
        return rule.allowed ? rule.filter : null
      },
    }
  }

  /** The key's identity for rate limiting: its uid, 'master', or undefined when open. */
  identify(token: string | undefined): string | undefined {
    if (token === undefined || token === '') return undefined
    if (this.allMasterKeys().some((master) => safeEqual(token, master))) return 'master'
    return this.bySecret.get(token)
  }

  private find(keyOrUid: string): StoredKey {
    const key = this.keys.get(keyOrUid) ?? this.keys.get(this.bySecret.get(keyOrUid) ?? '')
    if (key === undefined) throw new ApiError(404, 'api_key_not_found', `API key \`${keyOrUid}\` not found.`)
    return key
  }

  private put(key: StoredKey): void {
    this.keys.set(key.uid, key)
    this.index(key)
  }

  /** Maps the key's value under every accepted master key to its uid. */
  private index(key: StoredKey): void {
    for (const master of this.allMasterKeys()) this.bySecret.set(deriveKey(master, key.uid), key.uid)
  }

  private reveal(key: StoredKey): ApiKey {
    const secret = this.masterKey === undefined ? '' : deriveKey(this.masterKey, key.uid)
    return {
      name: key.name,
      description: key.description,
      key: secret,
      uid: key.uid,
      actions: key.actions,
      indexes: key.indexes,
      expiresAt: key.expiresAt,
      createdAt: key.createdAt,
      updatedAt: key.updatedAt,
    }
  }

  private async createDefaults(): Promise<void> {
    const now = new Date().toISOString()
    const defaults: StoredKey[] = [
      {
        uid: randomUUID(),
        name: 'Default Search API Key',
        description: 'Use it to search from the frontend',
        actions: ['search'],
        indexes: ['*'],
        expiresAt: null,
        createdAt: now,
        updatedAt: now,
      },
      {
        uid: randomUUID(),
        name: 'Default Admin API Key',
        description:
          'Use it for anything that is not a search operation. Caution! Do not expose it on a public frontend',
        actions: ['*'],
        indexes: ['*'],
        expiresAt: null,
        createdAt: now,
        updatedAt: now,
      },
    ]
    for (const key of defaults) this.put(key)
    await this.persist()
  }

  /** Writes keys.json, one write at a time (each writes the keys as they are when it runs). */
  private persist(): Promise<void> {
    const write = this.writing.then(() =>
      writeFileDurably(this.file, JSON.stringify([...this.keys.values()], null, 2)),
    )
    this.writing = write.catch(() => {})
    return write
  }
}

function allowsAction(granted: Action[], action: Action): boolean {
  const family = `${action.split('.')[0]}.*`
  return granted.some((a) => a === '*' || a === action || a === family)
}

function matchesIndex(pattern: string, uid: string): boolean {
  if (pattern === '*') return true
  if (pattern.endsWith('*')) return uid.startsWith(pattern.slice(0, -1))
  return pattern === uid
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

function validateUid(value: unknown): string {
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
  if (typeof value !== 'string' || !uuid.test(value)) {
    throw badRequest('invalid_api_key_uid', 'Invalid value at `.uid`: expected a UUID')
  }
  return value.toLowerCase()
}

function validateActions(value: unknown): Action[] {
  const grantable = ACTIONS.filter((a) => !MASTER_ONLY_PREFIXES.some((p) => a.startsWith(p)))
  const known = new Set<string>(grantable)
  if (!Array.isArray(value) || value.some((a) => typeof a !== 'string' || !known.has(a))) {
    throw badRequest(
      'invalid_api_key_actions',
      `Invalid value at \`.actions\`: expected an array of: ${grantable.join(', ')}`,
    )
  }
  return value as Action[]
}

function validateIndexes(value: unknown): string[] {
  const pattern = /^([A-Za-z0-9_-]+\*?|\*)$/
  if (!Array.isArray(value) || value.some((i) => typeof i !== 'string' || !pattern.test(i))) {
    throw badRequest(
      'invalid_api_key_indexes',
      'Invalid value at `.indexes`: expected an array of index uids or patterns ending with `*`',
    )
  }
  return value as string[]
}

function validateExpiresAt(value: unknown): string | null {
  if (value === null) return null
  const time = typeof value === 'string' ? Date.parse(value) : Number.NaN
  if (Number.isNaN(time) || time <= Date.now()) {
    throw badRequest(
      'invalid_api_key_expires_at',
      'Invalid value at `.expiresAt`: expected an RFC 3339 date in the future, or null',
    )
  }
  return new Date(time).toISOString()
}

function optionalString(value: unknown, code: string, field: string): string | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'string')
    throw badRequest(code, `Invalid value type at \`.${field}\`: expected a string`)
  return value
}

function snake(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
}
