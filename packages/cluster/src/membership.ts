import type { Member, Metadata, SwimEvent } from '@shoal/swim'
import type { NodeAdvert } from './metadata/types.ts'

/**
 * The membership port: what the cluster needs of SWIM. `SwimNode` from
 * `@shoal/swim` satisfies it; simulations pass their own.
 */
export interface MembershipPort {
  members(): Member[]
  /** Subscribes to membership events; returns the unsubscribe function. */
  on(listener: (event: SwimEvent) => void): () => void
  /** Replaces this member's advertised metadata (spreads by gossip). */
  updateMetadata(meta: Metadata): void
}

/** A member as the cluster reads it: SWIM's view plus the advert decoded from its metadata. */
export interface MemberView {
  readonly id: string
  readonly state: Member['state']
  readonly incarnation: number
  readonly gossipAddr: string
  /** The cluster id the member advertises; '' while it is still joining. */
  readonly clusterId: string
  readonly advert: NodeAdvert
  readonly stateChangedAtMs: number
  /** When a message from the member itself last arrived here. */
  readonly lastHeardMs: number
}

const LIST_SEPARATOR = ' '

/** Encodes a node's advert and cluster id as SWIM metadata (string to string). */
export function encodeMemberMetadata(advert: NodeAdvert, clusterId: string): Metadata {
  return {
    cluster: clusterId,
    name: advert.name,
    p2p: advert.p2pAddrs.join(LIST_SEPARATOR),
    http: advert.httpAddr,
    gossip: advert.gossipAddr,
    region: advert.region,
    zone: advert.zone,
    caps: advert.capabilities.join(LIST_SEPARATOR),
    version: advert.version,
    ...(advert.startedAtMs === undefined ? {} : { started: String(advert.startedAtMs) }),
    ...(labelCount(advert) === 0 ? {} : { labels: labelsText(advert) }),
  }
}

function labelCount(advert: NodeAdvert): number {
  return Object.keys(advert.labels ?? {}).length
}

/** A node's labels as canonical JSON (keys sorted), how gossip carries and compares them. */
function labelsText(advert: NodeAdvert): string {
  const labels = advert.labels ?? {}
  return JSON.stringify(
    Object.fromEntries(
      Object.keys(labels)
        .sort()
        .map((key) => [key, labels[key]]),
    ),
  )
}

/** The labels a member advertises; malformed text (never written by Shoal) counts as none. */
function decodeLabels(text: string | undefined): Record<string, string> | undefined {
  if (text === undefined || text === '') return undefined
  try {
    const parsed = JSON.parse(text) as unknown
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined
    const entries = Object.entries(parsed).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string',
    )
    return entries.length === 0 ? undefined : Object.fromEntries(entries)
  } catch {
    return undefined
  }
}

function splitList(value: string | undefined): string[] {
  return value === undefined || value === '' ? [] : value.split(LIST_SEPARATOR)
}

/** Decodes a SWIM member into the cluster's view of it. */
export function decodeMember(member: Member): MemberView {
  const meta = member.meta
  return {
    id: member.id,
    state: member.state,
    incarnation: member.incarnation,
    gossipAddr: member.address,
    clusterId: meta.cluster ?? '',
    stateChangedAtMs: member.stateChangedAtMs,
    lastHeardMs: member.lastHeardMs,
    advert: {
      id: member.id,
      name: meta.name ?? member.id,
      p2pAddrs: splitList(meta.p2p),
      httpAddr: meta.http ?? '',
      gossipAddr: meta.gossip ?? member.address,
      region: meta.region ?? '',
      zone: meta.zone ?? '',
      capabilities: splitList(meta.caps),
      version: meta.version ?? '',
      ...(meta.started !== undefined && Number.isFinite(Number(meta.started))
        ? { startedAtMs: Number(meta.started) }
        : {}),
      ...((labels) => (labels === undefined ? {} : { labels }))(decodeLabels(meta.labels)),
    },
  }
}

/** True when two adverts carry the same facts (the controller re-proposes a join only when they differ). */
export function sameAdvert(a: NodeAdvert, b: NodeAdvert): boolean {
  return (
    a.id === b.id &&
    a.name === b.name &&
    a.httpAddr === b.httpAddr &&
    a.gossipAddr === b.gossipAddr &&
    a.region === b.region &&
    a.zone === b.zone &&
    a.version === b.version &&
    a.p2pAddrs.join(LIST_SEPARATOR) === b.p2pAddrs.join(LIST_SEPARATOR) &&
    a.capabilities.join(LIST_SEPARATOR) === b.capabilities.join(LIST_SEPARATOR) &&
    labelsText(a) === labelsText(b)
  )
}
