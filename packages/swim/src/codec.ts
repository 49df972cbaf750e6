import { Packr } from 'msgpackr'
import type { MemberRecord, MemberState, Message, Metadata, Update } from './core/index.ts'
import { MalformedMessageError } from './errors.ts'

/**
 * Messages on the wire: a msgpack array of message objects (a compound
 * packet). Decoding validates every field, so a packet from a buggy or
 * hostile sender is rejected with `MalformedMessageError` instead of reaching
 * the core.
 */
const packr = new Packr({ useRecords: false, moreTypes: false })

export function encodeMessages(messages: readonly Message[]): Uint8Array {
  return packr.pack(messages)
}

export function decodeMessages(bytes: Uint8Array): Message[] {
  let value: unknown
  try {
    value = packr.unpack(bytes)
  } catch (cause) {
    throw new MalformedMessageError('payload is not msgpack', { cause })
  }
  if (!Array.isArray(value) || value.length === 0)
    throw new MalformedMessageError('payload is not a message list')
  return value.map(toMessage)
}

type Fields = Record<string, unknown>

function toMessage(value: unknown): Message {
  const m = object(value, 'message')
  switch (m.type) {
    case 'ping':
      return {
        type: 'ping',
        seq: int(m.seq, 'seq'),
        from: str(m.from, 'from'),
        fromAddress: str(m.fromAddress, 'fromAddress'),
        target: str(m.target, 'target'),
        updates: list(m.updates, 'updates').map(toUpdate),
      }
    case 'ack':
      return {
        type: 'ack',
        seq: int(m.seq, 'seq'),
        from: str(m.from, 'from'),
        updates: list(m.updates, 'updates').map(toUpdate),
      }
    case 'ping-req':
      return {
        type: 'ping-req',
        seq: int(m.seq, 'seq'),
        from: str(m.from, 'from'),
        fromAddress: str(m.fromAddress, 'fromAddress'),
        target: str(m.target, 'target'),
        targetAddress: str(m.targetAddress, 'targetAddress'),
        updates: list(m.updates, 'updates').map(toUpdate),
      }
    case 'nack':
      return { type: 'nack', seq: int(m.seq, 'seq'), from: str(m.from, 'from') }
    case 'gossip':
      return { type: 'gossip', from: str(m.from, 'from'), updates: list(m.updates, 'updates').map(toUpdate) }
    case 'push-pull':
      return {
        type: 'push-pull',
        from: str(m.from, 'from'),
        fromAddress: str(m.fromAddress, 'fromAddress'),
        join: bool(m.join, 'join'),
        reply: bool(m.reply, 'reply'),
        members: list(m.members, 'members').map(toRecord),
      }
    default:
      throw new MalformedMessageError(`unknown message type ${JSON.stringify(m.type)}`)
  }
}

function toUpdate(value: unknown): Update {
  const u = object(value, 'update')
  const id = str(u.id, 'id')
  const incarnation = int(u.incarnation, 'incarnation')
  switch (u.kind) {
    case 'alive':
      return { kind: 'alive', id, incarnation, address: str(u.address, 'address'), meta: meta(u.meta) }
    case 'suspect':
      return { kind: 'suspect', id, incarnation, from: str(u.from, 'from') }
    case 'dead':
      return { kind: 'dead', id, incarnation, from: str(u.from, 'from') }
    default:
      throw new MalformedMessageError(`unknown update kind ${JSON.stringify(u.kind)}`)
  }
}

const states: ReadonlySet<string> = new Set<MemberState>(['alive', 'suspect', 'dead', 'left'])

function toRecord(value: unknown): MemberRecord {
  const r = object(value, 'member record')
  const state = str(r.state, 'state')
  if (!states.has(state)) throw new MalformedMessageError(`unknown member state ${JSON.stringify(state)}`)
  return {
    id: str(r.id, 'id'),
    address: str(r.address, 'address'),
    incarnation: int(r.incarnation, 'incarnation'),
    state: state as MemberState,
    meta: meta(r.meta),
  }
}

function object(value: unknown, what: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new MalformedMessageError(`${what} is not an object`)
  return value as Fields
}

function str(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 512)
    throw new MalformedMessageError(`${field} must be a non-empty string of at most 512 characters`)
  return value
}

function int(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw new MalformedMessageError(`${field} must be a non-negative integer`)
  return value
}

function bool(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw new MalformedMessageError(`${field} must be a boolean`)
  return value
}

function list(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw new MalformedMessageError(`${field} must be a list`)
  return value
}

function meta(value: unknown): Metadata {
  const fields = object(value, 'meta')
  const out: Record<string, string> = {}
  for (const [key, entry] of Object.entries(fields)) {
    if (typeof entry !== 'string') throw new MalformedMessageError(`meta.${key} must be a string`)
    out[key] = entry
  }
  return out
}
