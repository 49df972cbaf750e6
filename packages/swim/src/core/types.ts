/** The four states of a member, as every other member sees it (SWIM §4.2, memberlist). */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left'

/**
 * Metadata a member advertises: addresses, region, zone, capabilities,
 * version. Its version is the member's incarnation: changing it bumps the
 * incarnation so the newest record wins everywhere.
 */
export type Metadata = Readonly<Record<string, string>>

/** One member as the local node sees it. Snapshots are immutable copies. */
export interface Member {
  readonly id: string
  /** Opaque to the core; the transport understands it (e.g. `127.0.0.1:7946`). */
  readonly address: string
  readonly incarnation: number
  readonly state: MemberState
  readonly meta: Metadata
  /** When the local node last saw the state change, on the driver's clock. */
  readonly stateChangedAtMs: number
  /** When a message from the member itself last arrived, on the driver's clock (first news of it until then). */
  readonly lastHeardMs: number
}

/** A membership fact disseminated by piggybacking and gossip. */
export type Update =
  | { kind: 'alive'; id: string; incarnation: number; address: string; meta: Metadata }
  | { kind: 'suspect'; id: string; incarnation: number; from: string }
  /** `from === id` means the member left gracefully. */
  | { kind: 'dead'; id: string; incarnation: number; from: string }

/** A member's full record as exchanged by push-pull state sync. */
export interface MemberRecord {
  id: string
  address: string
  incarnation: number
  state: MemberState
  meta: Metadata
}

/** The protocol's messages. `seq` pairs a probe with its ack or nack. */
export type Message =
  | { type: 'ping'; seq: number; from: string; fromAddress: string; target: string; updates: Update[] }
  | { type: 'ack'; seq: number; from: string; updates: Update[] }
  | {
      type: 'ping-req'
      seq: number
      from: string
      fromAddress: string
      target: string
      targetAddress: string
      updates: Update[]
    }
  /** Lifeguard: an intermediary that got no ack from the target in time says so. */
  | { type: 'nack'; seq: number; from: string }
  | { type: 'gossip'; from: string; updates: Update[] }
  | {
      type: 'push-pull'
      from: string
      fromAddress: string
      join: boolean
      reply: boolean
      members: MemberRecord[]
    }

/** A message the driver must send to `to` (an address). Best effort, like UDP. */
export interface Outgoing {
  to: string
  message: Message
}

/** What the local node learned. `by` on `dead` names the member whose suspicion timed out. */
export type SwimEvent =
  | { type: 'join'; member: Member; atMs: number }
  | { type: 'update'; member: Member; atMs: number }
  | { type: 'suspect'; member: Member; atMs: number; by: string }
  | { type: 'alive'; member: Member; atMs: number }
  | { type: 'dead'; member: Member; atMs: number; by: string }
  | { type: 'leave'; member: Member; atMs: number }

/** The output batch of one step: the driver sends the messages and delivers the events. */
export interface Ready {
  messages: Outgoing[]
  events: SwimEvent[]
}
