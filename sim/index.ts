/** The simulated IBKR Client Portal Gateway (see docs/simulator.md). */
export type { SimHandle, SimulatorOptions, SimUser } from './types';
export { startSimulator } from './startSimulator';
export { loadUsersFile } from './usersFile';
