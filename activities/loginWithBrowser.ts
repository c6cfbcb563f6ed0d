import { join } from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { BrowserLoginError, loginWithBrowser as driveLoginPage } from '../src/browser/browserLogin';
import { SecretMissingError, SecretStoreError } from '../src/secrets/secretStore';
import { FailureType } from '../src/contract/failureTypes';
import { InvalidActivationCodeError, planTotpStep, totpCodeForStep } from '../src/totp/totpCode';
import { metrics, recordLoginFailure } from '../src/metrics/metrics';
import { describeReach, probeGatewayReach } from '../src/gateway/gatewayReach';
import { reachFailure } from './activityFailure';
import { browserLoginFailure } from './browserLoginFailure';
import type { PodDependencies } from './podDependencies';

export interface BrowserLoginResult {
  /** The TOTP step used (not secret), so the workflow never lets a code be replayed in its step. */
  totpStep: number | null;
}

/** How long the login page may take to start answering before it counts as unreachable. */
const PREFLIGHT_TIMEOUT_MS = 10_000;

/**
 * Logs in through the gateway's HTML page with Playwright. Secrets are resolved here, from the
 * store, and go nowhere but the browser; failures carry a type and our own words only.
 */
export function createLoginWithBrowser(deps: PodDependencies) {
  return async function loginWithBrowser(connectionId: string, opts: { lastTotpStep: number | null }): Promise<BrowserLoginResult> {
    const connection = deps.connection(connectionId);
    const config = deps.config();
    const ctx = Context.current();
    let password: string;
    let activationCode: string | undefined;
    try {
      password = await deps.secrets.resolve(connection.passwordRef);
      activationCode = connection.totpSecretRef ? await deps.secrets.resolve(connection.totpSecretRef) : undefined;
    } catch (err) {
      if (err instanceof SecretMissingError || err instanceof SecretStoreError) {
        throw ApplicationFailure.create({ type: FailureType.SecretMissing, message: err.message, nonRetryable: true });
      }
      throw err;
    }

    if (activationCode !== undefined) {
      // A malformed activation code is found before any login attempt reaches IBKR.
      try {
        totpCodeForStep(activationCode, planTotpStep(Date.now(), null).step);
      } catch (err) {
        if (err instanceof InvalidActivationCodeError) {
          recordLoginFailure(connectionId, FailureType.InvalidTotpSecret);
          throw ApplicationFailure.create({ type: FailureType.InvalidTotpSecret, message: err.message, nonRetryable: true });
        }
        throw err;
      }
    }

    let totpStep: number | null = null;
    let typedCode = '';
    const heartbeat = setInterval(() => ctx.heartbeat(), 5_000);
    /** Null while the gateway and IBKR behind it answer; else the outage, as the failure to throw. */
    const outage = async (what: string, details?: unknown[]): Promise<ApplicationFailure | null> => {
      const { reach } = await probeGatewayReach(connection.gateway.url, { verifyTls: connection.gateway.verifyTls, timeoutMs: PREFLIGHT_TIMEOUT_MS });
      return reach === 'answering' ? null : reachFailure(reach, `${what}: ${describeReach(reach, new URL(connection.gateway.url).origin)}`, details);
    };
    try {
      // A login page that cannot load is an outage, not a failed login: no browser, nothing charged.
      const before = await outage('browser login not started');
      if (before) {
        deps.log.warn({ connectionId, type: before.type }, 'browser login not started: the login page cannot load');
        throw before;
      }
      await driveLoginPage({
        gatewayUrl: connection.gateway.url,
        verifyTls: connection.gateway.verifyTls,
        mode: connection.mode,
        username: connection.username,
        password,
        executablePath: config.browser.executablePath,
        headless: config.browser.headless,
        timeoutMs: config.browser.loginTimeoutMs,
        evidenceDir: join(config.stateDir, 'evidence', connectionId),
        redact: [password, activationCode ?? ''],
        totpCode: activationCode
          ? async () => {
              const plan = planTotpStep(Date.now(), opts.lastTotpStep);
              if (plan.waitMs > 0) await ctx.sleep(plan.waitMs);
              try {
                typedCode = totpCodeForStep(activationCode, plan.step);
              } catch (err) {
                if (err instanceof InvalidActivationCodeError) {
                  throw ApplicationFailure.create({ type: FailureType.InvalidTotpSecret, message: err.message, nonRetryable: true });
                }
                throw err;
              }
              totpStep = plan.step;
              return typedCode;
            }
          : undefined,
      });
      deps.log.info({ connectionId, secondFactor: totpStep !== null }, 'browser login succeeded');
      metrics.logins.inc({ connection: connectionId });
      return { totpStep };
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err;
      if (!(err instanceof BrowserLoginError)) throw err;
      if (err.kind === 'timeout' || err.kind === 'page_changed') {
        // The page stopped loading halfway: IBKR (or the gateway) went away during the login.
        const during = await outage(`browser login interrupted (${err.kind === 'timeout' ? 'it timed out' : 'the page did not load as expected'})`, [{ totpStep }]);
        if (during) {
          deps.log.warn({ connectionId, kind: err.kind, type: during.type, evidence: err.evidence?.screenshot }, 'browser login interrupted by an outage');
          throw during;
        }
      }
      deps.log.warn({ connectionId, kind: err.kind, evidence: err.evidence?.screenshot }, 'browser login failed');
      const failure = browserLoginFailure(err, { totpStep, clockSkewMs: () => deps.gateway(connectionId).lastClockSkewMs });
      recordLoginFailure(connectionId, failure.type);
      throw ApplicationFailure.create(failure);
    } finally {
      clearInterval(heartbeat);
      typedCode = '';
    }
  };
}
