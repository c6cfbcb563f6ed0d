import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { LoginSelectors, LoginTexts } from './loginSelectors';

/** Flags that keep Chromium quiet on a closed network and runnable as root in a container. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export type BrowserLoginFailureKind =
  | 'invalid_credentials'
  | 'mode_mismatch'
  | 'totp_rejected'
  | 'second_factor_unavailable'
  | 'account_locked'
  | 'login_unavailable'
  | 'page_changed'
  | 'timeout';

export class BrowserLoginError extends Error {
  override name = 'BrowserLoginError';
  constructor(
    readonly kind: BrowserLoginFailureKind,
    message: string,
    /** Screenshot and redacted DOM saved for a human, if any. */
    readonly evidence?: { screenshot: string; dom: string },
  ) {
    super(message);
  }
}

export interface BrowserLoginRequest {
  gatewayUrl: string;
  verifyTls: boolean;
  mode: 'paper' | 'live';
  username: string;
  password: string;
  /** Called only when the page asks for the authenticator code; returns the code to type. */
  totpCode?: () => Promise<string>;
  executablePath: string;
  headless: boolean;
  timeoutMs: number;
  /** Where failure evidence goes. */
  evidenceDir: string;
  /** Values to scrub from saved DOM (the password, the code). */
  redact: string[];
}

/** An error of the caller's `totpCode` callback: passed through as it is, never taken for a page change. */
class CallbackError extends Error {
  constructor(readonly original: unknown) {
    super('totpCode callback failed');
  }
}

/** Logs in through the gateway's own HTML page; one browser per login, always closed. */
export async function loginWithBrowser(req: BrowserLoginRequest): Promise<{ usedSecondFactor: boolean }> {
  const browser: Browser = await chromium.launch({
    executablePath: req.executablePath,
    headless: req.headless,
    args: CHROMIUM_ARGS,
  });
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: !req.verifyTls });
    const page = await context.newPage();
    page.setDefaultTimeout(req.timeoutMs);
    try {
      return await drivePage(page, req);
    } catch (err) {
      if (err instanceof CallbackError) throw err.original;
      const evidence = await saveEvidence(page, req).catch(() => undefined);
      if (err instanceof BrowserLoginError) throw new BrowserLoginError(err.kind, err.message, evidence);
      const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
      const kind = /timeout/i.test(message) ? 'timeout' : 'page_changed';
      throw new BrowserLoginError(kind, `login page did not behave as expected: ${scrub(message, req.redact)}`, evidence);
    }
  } finally {
    await browser.close().catch(() => undefined);
  }
}

async function drivePage(page: Page, req: BrowserLoginRequest): Promise<{ usedSecondFactor: boolean }> {
  await page.goto(new URL(LoginSelectors.loginPath, req.gatewayUrl).toString());
  const username = page.locator(LoginSelectors.username).first();
  try {
    await username.waitFor({ state: 'visible', timeout: Math.min(req.timeoutMs, 15_000) });
  } catch {
    throw new BrowserLoginError('page_changed', 'login page has no username field');
  }
  await setPaperToggle(page, req.mode === 'paper');
  await username.fill(req.username);
  await page.locator(LoginSelectors.password).first().fill(req.password);
  await page.locator(LoginSelectors.submit).first().click();

  let usedSecondFactor = false;
  for (;;) {
    const next = await waitForNextStep(page, req.timeoutMs);
    if (next === 'success') return { usedSecondFactor };
    if (next === 'error') throw await classifyError(page, usedSecondFactor);
    if (next === 'push') {
      throw new BrowserLoginError('second_factor_unavailable', 'the login asks for an IB Key push; only the Mobile Authenticator App can be answered unattended');
    }
    if (next === 'choose_device') {
      const select = page.locator(LoginSelectors.secondFactorSelect).first();
      const options = await select.locator('option').allTextContents();
      const wanted = options.find((o) => o.includes(LoginTexts.authenticatorDevice));
      if (!wanted) {
        throw new BrowserLoginError('second_factor_unavailable', 'this user has no Mobile Authenticator App second factor');
      }
      await select.selectOption({ label: wanted.trim() });
      continue;
    }
    // next === 'code'
    if (!req.totpCode) {
      throw new BrowserLoginError('second_factor_unavailable', 'the gateway asks for a second factor but the connection has no activation code');
    }
    if (usedSecondFactor) throw new BrowserLoginError('totp_rejected', 'the authenticator code was not accepted');
    usedSecondFactor = true;
    const code = await req.totpCode().catch((err: unknown) => {
      throw new CallbackError(err);
    });
    const input = page.locator(LoginSelectors.codeInput).first();
    await input.fill(code);
    await input.press('Enter');
  }
}

async function setPaperToggle(page: Page, paper: boolean): Promise<void> {
  const toggle = page.locator(LoginSelectors.paperToggle).first();
  if ((await toggle.count()) === 0) return; // pages without the toggle serve one mode only
  if ((await toggle.isChecked()) !== paper) await page.locator(LoginSelectors.paperToggleLabel).first().click();
}

type NextStep = 'success' | 'error' | 'code' | 'choose_device' | 'push';

/**
 * Reads of a page that may be navigating away: each gives up after a moment (Playwright would
 * otherwise wait the whole login timeout for an element of the page that is gone) and the loop
 * looks again. An unreadable field is "unknown", never "empty".
 */
const PROBE = { timeout: 1_000 };

/** Waits until the page shows success, an error, or asks for something. */
async function waitForNextStep(page: Page, timeoutMs: number): Promise<NextStep> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = await page.locator('body').innerText(PROBE).catch(() => '');
    if (text.includes(LoginTexts.success)) return 'success';
    if (await isVisible(page, LoginSelectors.errorBox)) {
      const message = (await page.locator(LoginSelectors.errorBox).first().innerText(PROBE).catch(() => '')).trim();
      if (message) return 'error';
    }
    if (await isVisible(page, LoginSelectors.codeInput)) {
      const value = await page.locator(LoginSelectors.codeInput).first().inputValue(PROBE).catch(() => null);
      if (value === '') return 'code';
    }
    if (await isVisible(page, LoginSelectors.secondFactorSelect)) return 'choose_device';
    if (await isVisible(page, LoginSelectors.pushNotification)) return 'push';
    await page.waitForTimeout(200);
  }
  throw new BrowserLoginError('timeout', `login did not finish within ${timeoutMs} ms`);
}

async function isVisible(page: Page, selector: string): Promise<boolean> {
  return page.locator(selector).first().isVisible().catch(() => false);
}

async function classifyError(page: Page, afterSecondFactor: boolean): Promise<BrowserLoginError> {
  const message = (await page.locator(LoginSelectors.errorBox).first().innerText()).trim();
  if (LoginTexts.modeMismatch.some((t) => message.includes(t))) {
    return new BrowserLoginError('mode_mismatch', 'the gateway says the paper/live mode does not match this user');
  }
  if (LoginTexts.badCredentials.some((t) => message.includes(t))) {
    return new BrowserLoginError('invalid_credentials', 'the gateway rejected the username or password');
  }
  const lower = message.toLowerCase();
  if (LoginTexts.locked.some((t) => lower.includes(t))) {
    return new BrowserLoginError('account_locked', 'the gateway says the user is locked (too many failed logins); unlock it with IBKR Client Services');
  }
  if (LoginTexts.unavailable.some((t) => lower.includes(t))) {
    return new BrowserLoginError('login_unavailable', 'the gateway says logins are unavailable (maintenance)');
  }
  if (afterSecondFactor) return new BrowserLoginError('totp_rejected', 'the authenticator code was not accepted');
  // Quote only our own words: the box could echo what was typed.
  return new BrowserLoginError('invalid_credentials', 'the login page reported a failure');
}

async function saveEvidence(page: Page, req: BrowserLoginRequest): Promise<{ screenshot: string; dom: string }> {
  mkdirSync(req.evidenceDir, { recursive: true, mode: 0o700 });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const screenshot = join(req.evidenceDir, `login-${stamp}.png`);
  const dom = join(req.evidenceDir, `login-${stamp}.html`);
  // Blank every input first so typed secrets appear in neither file.
  await page.evaluate(
    "for (const el of document.querySelectorAll('input')) { el.value = ''; el.removeAttribute('value'); }",
  );
  await page.screenshot({ path: screenshot, fullPage: true });
  writeFileSync(dom, scrub(await page.content(), req.redact), { mode: 0o600 });
  return { screenshot, dom };
}

function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('[redacted]');
  return out;
}
