export { DASHBOARD_CSP, DASHBOARD_PAGE, type DashboardAsset, loadDashboardAssets } from './assets.ts'
export { DashboardAssetsMissingError } from './errors.ts'
