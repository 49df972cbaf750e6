/**
 * The protocol's configuration. Defaults are hashicorp/memberlist's LAN
 * defaults (`DefaultLANConfig`), so figures compare with memberlist's for the
 * same parameters. Every duration is in milliseconds on the driver's clock.
 */
export interface SwimConfig {
  /** Time between probes of one member by this node. @defaultValue 1000 */
  readonly probeIntervalMs: number
  /** How long to wait for a direct ack before asking others (ping-req). @defaultValue 500 */
  readonly probeTimeoutMs: number
  /** Members asked to probe indirectly when the direct probe times out (SWIM's k). @defaultValue 3 */
  readonly indirectChecks: number
  /**
   * Suspicion timeout multiplier: the minimum suspicion timeout is
   * `suspicionMult × max(1, log10(n)) × probeIntervalMs`. @defaultValue 4
   */
  readonly suspicionMult: number
  /** Lifeguard: the maximum suspicion timeout is this × the minimum. @defaultValue 6 */
  readonly suspicionMaxTimeoutMult: number
  /** An update is retransmitted `retransmitMult × ceil(log10(n + 1))` times. @defaultValue 4 */
  readonly retransmitMult: number
  /** Lifeguard: the local health multiplier ranges over 1..this. @defaultValue 8 */
  readonly awarenessMaxMultiplier: number
  /** Time between gossip rounds (only sent when there is something to say). @defaultValue 200 */
  readonly gossipIntervalMs: number
  /** Members gossiped to per round. @defaultValue 3 */
  readonly gossipNodes: number
  /** Dead members still receive gossip this long, so a falsely declared one learns it. @defaultValue 30000 */
  readonly gossipToTheDeadMs: number
  /**
   * Full-state sync with one random live member; scaled up above 32 members
   * (memberlist's `pushPullScale`). 0 disables it. @defaultValue 30000
   */
  readonly pushPullIntervalMs: number
  /** Full-state sync with one random dead member, so partitions heal. 0 disables it. @defaultValue 30000 */
  readonly reconnectIntervalMs: number
  /** Dead members are forgotten (and no longer reconnected to) after this. @defaultValue 86400000 */
  readonly deadMemberRetentionMs: number
  /** Bytes of piggybacked updates allowed per message, below the transport's packet budget. @defaultValue 1100 */
  readonly piggybackBudgetBytes: number
  /**
   * Lifeguard extensions: local health awareness, dynamic suspicion timeouts,
   * nacks and the buddy system. Off gives plain SWIM with a fixed suspicion
   * timeout (the minimum above). @defaultValue true
   */
  readonly lifeguard: boolean
}

/** memberlist's `DefaultLANConfig`. */
export const LAN: SwimConfig = Object.freeze({
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  retransmitMult: 4,
  awarenessMaxMultiplier: 8,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadMs: 30_000,
  pushPullIntervalMs: 30_000,
  reconnectIntervalMs: 30_000,
  deadMemberRetentionMs: 86_400_000,
  piggybackBudgetBytes: 1100,
  lifeguard: true,
})

/** memberlist's `DefaultWANConfig`. */
export const WAN: SwimConfig = Object.freeze({
  ...LAN,
  probeIntervalMs: 5000,
  probeTimeoutMs: 3000,
  suspicionMult: 6,
  gossipIntervalMs: 500,
  gossipNodes: 4,
  gossipToTheDeadMs: 60_000,
  pushPullIntervalMs: 60_000,
  reconnectIntervalMs: 60_000,
})

/** memberlist's `DefaultLocalConfig` (loopback or one rack). */
export const LOCAL: SwimConfig = Object.freeze({
  ...LAN,
  probeTimeoutMs: 200,
  indirectChecks: 1,
  suspicionMult: 3,
  retransmitMult: 2,
  gossipIntervalMs: 100,
  gossipToTheDeadMs: 15_000,
  pushPullIntervalMs: 15_000,
  reconnectIntervalMs: 15_000,
})

export class ConfigError extends Error {
  readonly code = 'SWIM_CONFIG'
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

/** Fills a partial configuration from `base` (LAN by default) and validates it. */
export function resolveConfig(partial: Partial<SwimConfig> = {}, base: SwimConfig = LAN): SwimConfig {
  const config: SwimConfig = { ...base, ...partial }
  const positive: Array<keyof SwimConfig> = [
    'probeIntervalMs',
    'probeTimeoutMs',
    'gossipIntervalMs',
    'suspicionMult',
    'suspicionMaxTimeoutMult',
    'retransmitMult',
    'awarenessMaxMultiplier',
    'piggybackBudgetBytes',
  ]
  for (const key of positive) {
    const value = config[key]
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
      throw new ConfigError(`${key} must be a positive number, got ${String(value)}`)
  }
  const nonNegative: Array<keyof SwimConfig> = [
    'indirectChecks',
    'gossipNodes',
    'gossipToTheDeadMs',
    'pushPullIntervalMs',
    'reconnectIntervalMs',
    'deadMemberRetentionMs',
  ]
  for (const key of nonNegative) {
    const value = config[key]
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
      throw new ConfigError(`${key} must be a non-negative number, got ${String(value)}`)
  }
  if (config.probeTimeoutMs >= config.probeIntervalMs)
    throw new ConfigError('probeTimeoutMs must be shorter than probeIntervalMs (indirect probes need time)')
  if (config.suspicionMaxTimeoutMult < 1) throw new ConfigError('suspicionMaxTimeoutMult must be at least 1')
  if (!Number.isInteger(config.awarenessMaxMultiplier))
    throw new ConfigError('awarenessMaxMultiplier must be an integer')
  return Object.freeze(config)
}
