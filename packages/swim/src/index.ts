// @shoal/swim: SWIM membership with Lifeguard over authenticated UDP. The public API is re-exported here by name.
export { decodeMessages, encodeMessages } from './codec.ts'
export {
  Awareness,
  BroadcastQueue,
  ConfigError,
  detectionBoundMs,
  expectedConfirmations,
  LAN,
  LOCAL,
  type Member,
  type MemberRecord,
  type MemberState,
  type Message,
  type Metadata,
  type Outgoing,
  type Random,
  type Ready,
  resolveConfig,
  Suspicion,
  type SwimConfig,
  SwimCore,
  type SwimCoreOptions,
  type SwimEvent,
  seededRandom,
  suspicionMinTimeoutMs,
  suspicionTimeoutMs,
  type Update,
  WAN,
} from './core/index.ts'
export { MalformedMessageError, SwimError, TransportError } from './errors.ts'
export { MemoryNetwork, type MemoryNetworkOptions } from './memory-network.ts'
export { type DropReason, type OpenResult, PacketSeal, type PacketSealOptions } from './packet.ts'
export {
  type MessageTrace,
  Simulation,
  type SimulationListener,
  type SimulationOptions,
  type SimulationStats,
  type SlowMemberModel,
  type TraceListener,
} from './sim/simulation.ts'
export { type SwimListener, SwimNode, type SwimNodeOptions } from './swim-node.ts'
export { emptyStats, type Transport, type TransportStats } from './transport.ts'
export { UdpTransport, type UdpTransportOptions } from './udp-transport.ts'
