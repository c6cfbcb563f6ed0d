export { sessionWorkflow } from './session';
export { depthWorkflow } from './depth';
