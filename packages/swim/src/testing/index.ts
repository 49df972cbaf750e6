// @shoal/swim/testing: the Transport compliance checks, for implementations outside this package.
export { type ComplianceCheck, type TransportFactory, transportCompliance } from './transport-compliance.ts'
