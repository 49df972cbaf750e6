/**
 * Fault injection for multi-process tests: a TCP and UDP proxy per directed
 * link with runtime-changeable faults, partition shapes, process faults, and
 * the nemesis runner that drives a system under test through a scenario.
 */

export { divergentKeys, type LostWrite, lostWrites } from './checks.ts'
export { ChaosConfigError, ChaosRunError } from './errors.ts'
export { type Endpoint, FaultNetwork, type FaultNetworkOptions } from './fault-network.ts'
export { corruptOneByte, drawDelayMs, FaultTable, type Link, type LinkState } from './fault-table.ts'
export {
  type CutMode,
  isClean,
  type LatencySpike,
  type LinkFaults,
  NO_FAULTS,
  resolveLinkFaults,
} from './link-faults.ts'
export { NodeFront, type NodeFrontOptions, type NodeFrontStats } from './node-front.ts'
export { bridge, isolate, linksBetweenGroups, randomHalves, ring } from './partitions.ts'
export { type ChaosReport, formatMs, parseDuration, reportToMarkdown } from './report.ts'
export { type ChaosRunOptions, runChaos } from './runner.ts'
export type { AppliedFault, FaultRecord, NemesisContext, Scenario } from './scenario.ts'
export { SCENARIOS, scenarioByName } from './scenarios/index.ts'
export { roundRobin } from './scenarios/round-robin.ts'
export { timeScaled } from './scenarios/time-scaled.ts'
export { procAddress, tcpDialerPid } from './socket-owner.ts'
export type {
  ChaosClient,
  FinalState,
  OpOutcome,
  ReplicaState,
  SystemCapabilities,
  SystemCheck,
  SystemUnderTest,
} from './system.ts'
export { TcpLinkProxy, type TcpLinkProxyOptions, type TcpProxyStats } from './tcp-link-proxy.ts'
export { emptyFolder, fillUp, isMounted, tryMountTmpfs, unmountTmpfs } from './tmpfs.ts'
export { UdpLinkProxy, type UdpLinkProxyOptions, type UdpProxyStats } from './udp-link-proxy.ts'
export { type OperationCounts, Workload, type WorkloadOptions } from './workload.ts'
