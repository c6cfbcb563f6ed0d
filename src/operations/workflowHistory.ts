import type { Client, WorkflowHandle } from '@temporalio/client';
import { sessionWorkflowId } from '../contract/ids';

export type WorkflowHistory = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;

/** The full event history of a workflow run (the latest run without `runId`). */
export function fetchWorkflowHistory(client: Client, workflowId: string, runId?: string): Promise<WorkflowHistory> {
  return client.workflow.getHandle(workflowId, runId).fetchHistory();
}

/** How many events the current run of a connection's session workflow has written. */
export async function sessionHistoryLength(client: Client, username: string): Promise<number> {
  const history = await fetchWorkflowHistory(client, sessionWorkflowId(username));
  return history.events?.length ?? 0;
}

/** Every workflow run in the namespace with its history (for audits such as the soak's leak scan). */
export async function* allWorkflowHistories(client: Client): AsyncGenerator<{ workflowId: string; runId: string; history: WorkflowHistory }> {
  for await (const wf of client.workflow.list()) {
    yield { workflowId: wf.workflowId, runId: wf.runId, history: await fetchWorkflowHistory(client, wf.workflowId, wf.runId) };
  }
}
