import fc from 'fast-check';
import { COMPETING_WINDOW_MS, decideOnCompetingLoss, MAX_COMPETING_LOSSES, type CompetingLoss } from '../../workflows/competingGuard';

const NOW = 1_800_000_000_000;
const MIN = 60_000;
const loss = (over: Partial<CompetingLoss> = {}): CompetingLoss => ({ lossesAtMs: [], nowMs: NOW, policy: 'reclaim', cooldownMs: 2 * MIN, why: 'taken', ...over });

describe('decideOnCompetingLoss', () => {
  test('reclaim: the first loss waits the cool-down, then takes the session back', () => {
    expect(decideOnCompetingLoss(loss())).toEqual({
      lossesAtMs: [NOW],
      waitForHuman: false,
      humanReason: 'taken; competingPolicy is wait-for-human: send forceRelogin (ibflow session relogin) to take the session back',
      reclaimReason: 'taken; reclaiming in 120 s unless told otherwise',
      reclaimAtMs: NOW + 2 * MIN,
    });
  });

  test('facts recorded before the policy existed (no policy, no losses) reclaim', () => {
    expect(decideOnCompetingLoss(loss({ policy: undefined, lossesAtMs: undefined }))).toMatchObject({ waitForHuman: false, lossesAtMs: [NOW] });
  });

  test('wait-for-human never reclaims by itself', () => {
    expect(decideOnCompetingLoss(loss({ policy: 'wait-for-human' }))).toMatchObject({ waitForHuman: true });
  });

  test('the flip-flop guard: the third loss within an hour waits for a human, and says why', () => {
    const d = decideOnCompetingLoss(loss({ lossesAtMs: [NOW - 50 * MIN, NOW - 10 * MIN] }));
    expect(MAX_COMPETING_LOSSES).toBe(3);
    expect(d.waitForHuman).toBe(true);
    expect(d.lossesAtMs).toEqual([NOW - 50 * MIN, NOW - 10 * MIN, NOW]);
    expect(d.humanReason).toBe(
      'taken; taken 3× within an hour — someone is using this username, so ibflow does not fight for it: send forceRelogin (ibflow session relogin) to take the session back',
    );
  });

  test('losses an hour old or more are forgotten', () => {
    const d = decideOnCompetingLoss(loss({ lossesAtMs: [NOW - COMPETING_WINDOW_MS, NOW - 10 * MIN] }));
    expect(d.lossesAtMs).toEqual([NOW - 10 * MIN, NOW]);
    expect(d.waitForHuman).toBe(false);
  });

  test('the cool-down is named in whole seconds', () => {
    expect(decideOnCompetingLoss(loss({ cooldownMs: 10 * MIN })).reclaimReason).toBe('taken; reclaiming in 600 s unless told otherwise');
    expect(decideOnCompetingLoss(loss({ cooldownMs: 1_499 })).reclaimReason).toBe('taken; reclaiming in 1 s unless told otherwise');
  });

  test('does not modify the remembered losses', () => {
    const earlier = [NOW - 2 * COMPETING_WINDOW_MS, NOW - MIN];
    decideOnCompetingLoss(loss({ lossesAtMs: earlier }));
    expect(earlier).toEqual([NOW - 2 * COMPETING_WINDOW_MS, NOW - MIN]);
  });

  test('remembers this loss and those within the hour; asks a human iff by policy or at three (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3 * COMPETING_WINDOW_MS }), { maxLength: 6 }),
        fc.constantFrom<CompetingLoss['policy']>('reclaim', 'wait-for-human', undefined),
        (ages, policy) => {
          const d = decideOnCompetingLoss(loss({ lossesAtMs: ages.map((a) => NOW - a), policy }));
          expect(d.lossesAtMs[d.lossesAtMs.length - 1]).toBe(NOW);
          expect(d.lossesAtMs.every((t) => NOW - t < COMPETING_WINDOW_MS)).toBe(true);
          expect(d.lossesAtMs).toHaveLength(ages.filter((a) => a < COMPETING_WINDOW_MS).length + 1);
          expect(d.waitForHuman).toBe(policy === 'wait-for-human' || d.lossesAtMs.length >= 3);
        },
      ),
    );
  });
});
