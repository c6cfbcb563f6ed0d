import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Registered on the Temporal server by `ibflow up`; the Web UI lists and filters sessions by them. */
export const IbflowState = defineSearchAttributeKey('IbflowState', SearchAttributeType.KEYWORD);
export const IbflowConnection = defineSearchAttributeKey('IbflowConnection', SearchAttributeType.KEYWORD);
export const IbflowMode = defineSearchAttributeKey('IbflowMode', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [IbflowState, IbflowConnection, IbflowMode] as const;
