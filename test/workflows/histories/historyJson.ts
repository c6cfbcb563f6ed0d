/**
 * History ⇄ JSON in the format of `temporal workflow show --output json` and the Web UI download.
 *
 * SDK 1.24's `historyToJSON` / `historyFromJSON` (@temporalio/common/lib/proto-utils) throw
 * "type must be a Type": @temporalio/common and @temporalio/proto each install their own copy of
 * protobufjs 8, and protojson's `instanceof Type` check fails across the two copies. So this uses
 * the protojson of the copy that @temporalio/proto's types come from. Histories this writes are
 * what those SDK functions would write; `Worker.runReplayHistory` takes the decoded object as is.
 */
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

export type History = proto.temporal.api.history.v1.IHistory;

interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const protojson = require(require.resolve('protobufjs/ext/protojson', { paths: [require.resolve('@temporalio/proto')] })) as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType('temporal.api.history.v1.History');

export function historyToJson(history: History): string {
  return JSON.stringify(protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history)), null, 2);
}

export function historyFromJson(json: unknown): History {
  const history = protojson.fromJson(historyType, json, { ignoreUnknownFields: true }) as History | null;
  if (!history?.events?.length) throw new TypeError('not a workflow history: no events');
  return history;
}
