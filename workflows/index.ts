export { sessionWorkflow } from './session';
export { depthWorkflow } from './depth';
export { depthCoordinatorWorkflow } from './depthCoordinator';
export { depthRetentionWorkflow } from './depthRetention';
