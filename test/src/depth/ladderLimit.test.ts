import { allotLadders } from '../../../src/depth/ladderLimit';

describe('allotLadders', () => {
  test('streams the first maxLadders instruments and reports the rest as DepthOverLimit', () => {
    const a = allotLadders('paper-1', [{ conid: 1 }, { conid: 2 }, { conid: 3 }], 1);
    expect(a.streamed).toEqual([{ conid: 1 }]);
    expect(a.overLimit).toEqual([2, 3]);
    expect(a.problem).toBe(
      'DepthOverLimit: connection paper-1 is assigned 3 depth ladders but an account may hold 1 (depth.maxLaddersPerAccount); ' +
        'streaming 1, NOT streaming 2, 3 — assign them to another connection',
    );
  });

  test('within the limit: everything streams, nothing to report', () => {
    expect(allotLadders('paper-1', [{ conid: 1 }, { conid: 2 }], 2)).toEqual({ streamed: [{ conid: 1 }, { conid: 2 }], overLimit: [], problem: null });
    expect(allotLadders('paper-1', [], 1)).toEqual({ streamed: [], overLimit: [], problem: null });
  });
});
