import { join } from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { BrowserLoginError, loginWithBrowser as driveLoginPage } from '../src/browser/browserLogin';
import { SecretMissingError, SecretStoreError } from '../src/secrets/secretStore';
import { FailureType } from '../src/contract/failureTypes';
import { InvalidActivationCodeError, planTotpStep, totpCodeForStep } from '../src/totp/totpCode';
import { metrics, recordLoginFailure } from '../src/metrics/metrics';
import { browserLoginFailure } from './browserLoginFailure';
import type { PodDependencies } from './podDependencies';

export interface BrowserLoginResult {
  /** The TOTP step used (not secret), so the workflow never lets a code be replayed in its step. */
  totpStep: number | null;
}

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
    try {
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
