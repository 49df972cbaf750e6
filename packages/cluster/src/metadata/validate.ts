import { type MetadataCommand, NODE_STATES } from './types.ts'

type Check = (value: unknown) => boolean

const isString: Check = (v) => typeof v === 'string'
const isNonEmpty: Check = (v) => typeof v === 'string' && v.length > 0 && v.length <= 512
const isFiniteNumber: Check = (v) => typeof v === 'number' && Number.isFinite(v)
const isStringArray: Check = (v) => Array.isArray(v) && v.every((s) => typeof s === 'string')
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
const isNodeState: Check = (v) => typeof v === 'string' && (NODE_STATES as readonly string[]).includes(v)

function fields(value: unknown, spec: Record<string, Check>, optional: Record<string, Check> = {}): boolean {
  if (!isRecord(value)) return false
  for (const [name, check] of Object.entries(spec)) if (!check(value[name])) return false
  for (const [name, check] of Object.entries(optional)) {
    if (value[name] !== undefined && !check(value[name])) return false
  }
  return true
}

const advertSpec: Record<string, Check> = {
  id: isNonEmpty,
  name: isString,
  p2pAddrs: isStringArray,
  httpAddr: isString,
  gossipAddr: isString,
  region: isString,
  zone: isString,
  capabilities: isStringArray,
  version: isString,
}

const isLabels: Check = (v) => isRecord(v) && Object.values(v).every((s) => typeof s === 'string')

const isPlacement: Check = (v) =>
  fields(
    v,
    {},
    { require: isLabels, spreadBy: isNonEmpty, leaderPrefers: isLabels, capabilities: isNonEmptyStrings },
  )

function isNonEmptyStrings(v: unknown): boolean {
  return Array.isArray(v) && v.length > 0 && v.every(isNonEmpty)
}

const isSharding: Check = (v) =>
  fields(
    v,
    {
      shardCount: isPositiveInt,
      replicationFactor: isPositiveInt,
      strategy: (s) => s === 'hash' || s === 'field',
    },
    { field: isNonEmpty, placement: isPlacement },
  ) &&
  ((v as Record<string, unknown>).strategy === 'field') ===
    ((v as Record<string, unknown>).field !== undefined)

function isPositiveInt(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65_536
}

const isReplica: Check = (v) =>
  fields(v, {
    nodeId: isNonEmpty,
    role: (r) => r === 'voter' || r === 'learner',
    state: (s) => s === 'initializing' || s === 'active' || s === 'removing',
  })

const isShard: Check = (v) =>
  fields(
    v,
    {
      shard: (n) => typeof n === 'number' && Number.isInteger(n) && n >= 0,
      replicas: (r) => Array.isArray(r) && r.every(isReplica),
    },
    { founders: isStringArray },
  )

const isShardList: Check = (s) => Array.isArray(s) && s.every(isShard)
const isTaskUid: Check = (n) => typeof n === 'number' && Number.isInteger(n) && n >= 0
const isTask: Check = (t) =>
  isRecord(t) && t.uid === undefined && isString(t.status) && (t.indexUid === null || isNonEmpty(t.indexUid))

const isSwapPair: Check = (p) =>
  fields(p, {
    indexes: (i) => Array.isArray(i) && i.length === 2 && i.every(isNonEmpty) && i[0] !== i[1],
    rename: (r) => typeof r === 'boolean',
  })

const specs: Record<MetadataCommand['type'], (c: Record<string, unknown>) => boolean> = {
  init: (c) => fields(c, { clusterId: isNonEmpty, name: isString, atMs: isFiniteNumber }),
  'node.join': (c) =>
    fields(c, {
      node: (n) => fields(n, advertSpec, { startedAtMs: isFiniteNumber, labels: isLabels }),
      atMs: isFiniteNumber,
    }),
  'node.state': (c) =>
    fields(
      c,
      { nodeId: isNonEmpty, state: isNodeState, atMs: isFiniteNumber },
      { ifState: (s) => Array.isArray(s) && s.every(isNodeState) },
    ),
  'node.remove': (c) => fields(c, { nodeId: isNonEmpty }),
  'index.create': (c) =>
    fields(
      c,
      {
        index: (i) =>
          fields(i, {
            uid: isNonEmpty,
            primaryKey: (p) => p === null || isNonEmpty(p),
            settings: isRecord,
            sharding: isSharding,
          }),
        atMs: isFiniteNumber,
      },
      { shards: isShardList },
    ),
  'index.update': (c) =>
    fields(
      c,
      { uid: isNonEmpty, atMs: isFiniteNumber },
      {
        primaryKey: isNonEmpty,
        settings: isRecord,
        replicationFactor: isPositiveInt,
        requireCapabilities: isNonEmptyStrings,
      },
    ),
  'index.delete': (c) => fields(c, { uid: isNonEmpty }),
  'index.swap': (c) =>
    fields(c, {
      swaps: (list) => Array.isArray(list) && list.length > 0 && list.every(isSwapPair),
      taskUid: isTaskUid,
      atMs: isFiniteNumber,
    }),
  'shards.set': (c) => fields(c, { uid: isNonEmpty, shards: isShardList }),
  'shard.update': (c) =>
    fields(c, {
      uid: isNonEmpty,
      createdAtMs: isFiniteNumber,
      shard: (n) => typeof n === 'number' && Number.isInteger(n) && n >= 0,
      expect: (r) => Array.isArray(r) && r.every(isReplica),
      replicas: (r) =>
        Array.isArray(r) &&
        r.length > 0 &&
        r.every(isReplica) &&
        new Set(r.map((x: { nodeId: string }) => x.nodeId)).size === r.length,
    }),
  'task.enqueue': (c) =>
    fields(c, { task: isTask, atMs: isFiniteNumber }, { payload: (p) => p instanceof Uint8Array }),
  'task.update': (c) =>
    fields(
      c,
      { uid: isTaskUid, patch: (p) => isRecord(p) && p.uid === undefined },
      { ifStatus: isStringArray, dropPayload: (d) => typeof d === 'boolean' },
    ),
  'task.delete': (c) => fields(c, { uids: (u) => Array.isArray(u) && u.every(isTaskUid) }),
  'apiKey.put': (c) => fields(c, { key: (k) => isRecord(k) && isNonEmpty(k.uid) }),
  'apiKey.delete': (c) => fields(c, { uid: isNonEmpty }),
  'setting.put': (c) => fields(c, { key: isNonEmpty, value: isString }),
  'setting.delete': (c) => fields(c, { key: isNonEmpty }),
}

/** True when `value` is a well-formed metadata command. Checked on propose and again on apply. */
export function isMetadataCommand(value: unknown): value is MetadataCommand {
  if (!isRecord(value) || typeof value.type !== 'string') return false
  // Own keys only: `constructor` or `__proto__` must not reach Object.prototype's members.
  if (!Object.hasOwn(specs, value.type)) return false
  return specs[value.type as MetadataCommand['type']](value)
}
