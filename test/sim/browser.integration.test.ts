/** The login page driven by Chromium (playwright-core) using only the selectors of the real IBKR page. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { eventually, http, startTestSim, totpCode, type TestSim } from './simTestKit';

/** Evaluated in the page: "Client login succeeds" anywhere in the body text. */
const LOGIN_SUCCEEDED = "document.body && document.body.innerText.includes('Client login succeeds')";
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

let browser: Browser;
beforeAll(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
});
afterAll(async () => {
  await browser?.close();
});

async function openLogin(sim: TestSim): Promise<Page> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(`${sim.url}/`); // redirects to /sso/Login
  await page.waitForSelector('.loginformWrapper input#xyz-field-username[name=username]');
  return page;
}

async function submitCredentials(page: Page, username: string, password: string, paper: boolean): Promise<void> {
  await page.fill('input#xyz-field-username[name=username]', username);
  await page.fill('input#xyz-field-password[name=password]', password);
  if (paper !== (await page.isChecked('#toggle1'))) await page.click('label[for=toggle1]');
  await page.click('form.xyzform-username button.btn.btn-lg.xyz-button-login');
}

async function errorText(page: Page): Promise<string> {
  await page.waitForSelector('.xyz-errormessage', { state: 'visible' });
  return (await page.textContent('.xyz-errormessage')) ?? '';
}

describe('login page in Chromium', () => {
  let sim: TestSim;
  afterEach(async () => {
    await sim?.stop();
  });

  test('paper user: toggle "Paper", submit, "Client login succeeds"', async () => {
    sim = await startTestSim();
    const page = await openLogin(sim);
    expect(await page.isVisible('.xyz-errormessage')).toBe(false);
    expect(await page.isVisible('#twofactbase')).toBe(false);
    expect(await page.textContent('label[for=toggle1]')).toBe('Paper');
    await submitCredentials(page, 'paperuser', 'paper-pw', true);
    await page.waitForFunction(LOGIN_SUCCEEDED);
    expect((await http(sim.controlUrl, 'GET', '/sim/control/sessions')).json().paperuser.sso).toBe(true);
    await page.context().close();
  });

  test('live user with several factors: device list, authenticator code submitted with Enter', async () => {
    sim = await startTestSim();
    const page = await openLogin(sim);
    await submitCredentials(page, 'multiuser', 'multi-pw', false);
    await page.waitForSelector('#twofactbase select.xyz-multipleselect', { state: 'visible' });
    await page.selectOption('select.xyz-multipleselect', { label: 'Mobile Authenticator App' });
    const code = page.locator('input#xyz-field-silver-response[name=silver-response]');
    await code.waitFor({ state: 'visible' });
    expect(await code.getAttribute('placeholder')).toBe('Mobile Authenticator App Code');
    await code.fill(totpCode());
    await code.press('Enter');
    await page.waitForFunction(LOGIN_SUCCEEDED);
    await page.context().close();
  });

  test('live user with one factor goes straight to the code form (submit button)', async () => {
    sim = await startTestSim();
    const page = await openLogin(sim);
    await submitCredentials(page, 'liveuser', 'live-pw', false);
    await page.waitForSelector('input#xyz-field-silver-response', { state: 'visible' });
    await page.fill('input#xyz-field-silver-response', totpCode());
    await page.click('form.xyzform-silver button[type=submit]');
    await page.waitForFunction(LOGIN_SUCCEEDED);
    // One factor, one good login: nothing failed on the way.
    expect((await http(sim.controlUrl, 'GET', '/sim/control/stats')).json().logins.liveuser).toMatchObject({ ok: 1, failed: 0 });
    await page.context().close();
  });

  test('wrong password shows the recorded error text', async () => {
    sim = await startTestSim();
    const page = await openLogin(sim);
    await submitCredentials(page, 'paperuser', 'not-the-password', true);
    expect(await errorText(page)).toBe('Invalid username password combination');
    await page.context().close();
  });

  test('lockout after N failures is shown on the page and survives a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ibflow-sim-browser-lock-'));
    const opts = { stateDir: dir, lockout: { maxFailures: 2, durationMs: 3_600_000 } };
    try {
      sim = await startTestSim(opts);
      let page = await openLogin(sim);
      for (let i = 0; i < 2; i++) {
        await submitCredentials(page, 'paperuser', `wrong-${i}`, true);
        expect(await errorText(page)).toBe('Invalid username password combination');
        await page.evaluate("document.querySelector('.xyz-errormessage').setAttribute('hidden', '')");
      }
      await page.context().close();
      await sim.close();

      sim = await startTestSim(opts);
      page = await openLogin(sim);
      await submitCredentials(page, 'paperuser', 'paper-pw', true);
      expect(await errorText(page)).toMatch(/locked/);
      await eventually(async () => (await http(sim.controlUrl, 'GET', '/sim/control/stats')).json().logins.paperuser?.locked === 1, 2000, 'locked attempt counted');
      await page.context().close();
    } finally {
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
