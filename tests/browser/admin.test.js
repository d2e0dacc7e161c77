// admin.test.js - the admin console in a real browser (API.md § "Admin console"): Playwright
// (playwright-core, pinned in package.json) drives Debian's /usr/bin/chromium against a souk
// started by run.sh (SOUK_URL, the staff accounts in ADMIN_EMAIL / MODERATOR_EMAIL, password
// STAFF_PASSWORD; SOUK_TEST_JOBS=1). Each flow is checked through the public API afterwards.
// Screenshots of the main pages go to SCREENSHOT_DIR. Last line: `N passed, N failed`.
'use strict';
const http = require('node:http');
const path = require('node:path');
const { chromium } = require('playwright-core');

const BASE = process.env.SOUK_URL;
const PW = process.env.STAFF_PASSWORD;
const SHOTS = process.env.SCREENSHOT_DIR || '';
const uniq = () => Math.random().toString(16).slice(2, 10);

async function api(method, p, body, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = 'Bearer ' + token;
  const r = await fetch(BASE + p, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

function expect(cond, what) {
  if (!cond) throw new Error('expected: ' + what);
}

async function waitFor(fn, what, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function token(email) {
  const r = await api('POST', '/api/users/login/', { email, password: PW });
  expect(r.status === 200, 'login of ' + email + ' (' + r.status + ')');
  return r.json.access;
}

async function chef(name) {
  const email = `chef-${uniq()}@example.com`;
  const r = await api('POST', '/api/chefs/register/', { email, password: PW, first_name: 'Chef',
    last_name: 'B', business_name: name, bio: 'cooks' });
  expect(r.status === 201, 'chef registered');
  return r.json;
}

async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
}

async function signIn(page, email) {
  await page.goto(BASE + '/admin/');
  expect(page.url().includes('/admin/login/?next='), 'redirected to the sign-in form');
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', PW);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  expect(new URL(page.url()).pathname === '/admin/', 'on the dashboard after sign-in');
}

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

test('sign-in form and ADMIN sign-in', async ({ page }) => {
  await page.goto(BASE + '/admin/login/');
  await shot(page, 'login');
  await signIn(page, process.env.ADMIN_EMAIL);
  expect(await page.isVisible('text=Dead jobs'), 'dashboard counters');
  await shot(page, 'dashboard');
  await page.click('nav >> text=Users');
  expect(await page.isVisible('table'), 'users table');
  await shot(page, 'users');
});

test('verify a vendor', async ({ page }) => {
  const name = 'Verify Me ' + uniq();
  const c = await chef(name);
  await signIn(page, process.env.ADMIN_EMAIL);
  await page.goto(BASE + '/admin/vendors/');
  await page.fill('input[name=q]', name);
  await Promise.all([page.waitForNavigation(), page.click('form.filters button')]);
  await Promise.all([page.waitForNavigation(), page.click(`text=${name}`)]);
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Verify")')]);
  expect(await page.isVisible('text=Vendor verified.'), 'the done message');
  await shot(page, 'vendor');
  const r = await api('GET', `/api/chefs/${c.chef.id}/`);
  expect(r.json.is_verified === true, 'is_verified in the API');
});

test('refund a paid order', async ({ page }) => {
  const c = await chef('Fix-It ' + uniq());
  let r = await api('POST', '/api/services/', { name: 'Screen repair', description: 'Phones',
    category: 'repair' }, c.access);
  expect(r.status === 201, 'service');
  r = await api('POST', `/api/services/${r.json.id}/variants/`, { name: 'Standard', price: '29.99',
    estimated_minutes: 45, stock: 3 }, c.access);
  expect(r.status === 201, 'variant');
  const variant = r.json.id;
  const email = `buyer-${uniq()}@example.com`;
  await api('POST', '/api/users/register/', { email, password: PW, first_name: 'B', last_name: 'C' });
  const buyer = await token(email);
  r = await api('POST', '/api/orders/', { variant_id: variant }, buyer);
  expect(r.status === 201, 'order placed');
  const order = r.json;
  await page.goto(order.payment_url); // the sandbox's hosted checkout
  await page.fill('#card_number', '4242424242424242');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  await waitFor(async () => ['paid', 'processing'].includes(
    (await api('GET', `/api/orders/${order.id}/`, null, buyer)).json.status), 'order paid');
  await signIn(page, process.env.ADMIN_EMAIL);
  await page.goto(BASE + `/admin/orders/${order.id}/`);
  await shot(page, 'order');
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Refund")')]);
  expect(await page.isVisible('text=Order refunded.'), 'the done message');
  expect(await page.isVisible('dd.status >> text=refunded'), 'status shown');
  r = await api('GET', `/api/orders/${order.id}/`, null, buyer);
  expect(r.json.status === 'refunded', 'refunded in the API (got ' + r.json.status + ')');
});

test('retry a dead job', async ({ page }) => {
  const admin = await token(process.env.ADMIN_EMAIL);
  let r = await api('POST', '/api/admin/jobs/enqueue/', { kind: 'test.fail',
    payload: { permanent: true } }, admin);
  expect(r.status === 201, 'job enqueued');
  const id = r.json.id;
  const job = () => api('GET', `/api/admin/jobs/${id}/`, null, admin).then((x) => x.json);
  const first = await waitFor(async () => { const j = await job(); return j.state === 'dead' && j; },
    'job dead');
  await signIn(page, process.env.ADMIN_EMAIL);
  await page.goto(BASE + '/admin/jobs/?state=dead');
  await shot(page, 'jobs');
  await Promise.all([page.waitForNavigation(), page.click(`a[href="/admin/jobs/${id}/"]`)]);
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Retry now")')]);
  expect(await page.isVisible('text=Job queued again.'), 'the done message');
  await waitFor(async () => { const j = await job(); return j.state === 'dead' &&
    j.finished_at > first.finished_at; }, 'the job ran again');
});

// A 1x1 PNG: enough for libmagic and libvips to accept a project's media.
const PNG_1x1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQD' +
  'wAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

test('hide a reported project', async ({ page }) => {
  const email = `studio-${uniq()}@example.com`;
  let r = await api('POST', '/api/users/register/', { email, password: PW, first_name: 'S',
    last_name: 'D', role: 'VENDOR' });
  expect(r.status === 201, 'vendor registered (' + r.status + ')');
  const vendor = await token(email);
  r = await api('POST', '/api/vendors/profile/', { business_name: 'Studio ' + uniq(),
    city: 'Tunis', bio: 'interiors', categories: ['kitchens'] }, vendor);
  expect(r.status === 201, 'specialist profile');
  const form = new FormData();
  form.append('title', 'Reported loft ' + uniq());
  form.append('category', 'kitchens');
  form.append('media', new Blob([PNG_1x1], { type: 'image/png' }), 'a.png');
  const up = await fetch(BASE + '/api/projects/', { method: 'POST', body: form,
    headers: { Authorization: 'Bearer ' + vendor } });
  expect(up.status === 201, 'project created (' + up.status + ')');
  const project = await up.json();
  expect((await api('GET', `/api/projects/${project.id}/`)).status === 200, 'public at first');
  const reporter = `reporter-${uniq()}@example.com`;
  await api('POST', '/api/users/register/', { email: reporter, password: PW, first_name: 'R',
    last_name: 'P' });
  r = await api('POST', '/api/reports/', { target_type: 'project', target_id: project.id,
    reason: 'not a real project' }, await token(reporter));
  expect(r.status === 201, 'report filed');
  const report = r.json;
  await signIn(page, process.env.MODERATOR_EMAIL);
  await page.goto(BASE + '/admin/reports/?target_type=project');
  await shot(page, 'reports');
  await Promise.all([page.waitForNavigation(), page.click(`a[href="/admin/reports/${report.id}/"]`)]);
  await page.selectOption('select[name=action]', 'hide_content');
  await page.fill('input[name=note]', 'stock photos');
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Resolve")')]);
  expect(await page.isVisible('dd.state >> text=resolved'), 'the report is resolved');
  r = await api('GET', `/api/projects/${project.id}/`);
  expect(r.status === 404, 'gone from the public API (got ' + r.status + ')');
  await page.goto(BASE + `/admin/projects/${project.id}/`);
  expect(await page.isVisible('text=hidden since'), 'the console shows it hidden');
  await shot(page, 'project');
});

test('write, preview and publish a blog post', async ({ page }) => {
  const tag = uniq();
  await signIn(page, process.env.MODERATOR_EMAIL);
  await page.goto(BASE + '/admin/blog/');
  await page.fill('form.edit input[name=title]', 'Spring kitchens ' + tag);
  await page.fill('form.edit input[name=slug]', 'spring-' + tag);
  await page.fill('form.edit textarea[name=body]', '# Light\n\n*warm* wood <img src=x onerror=alert(1)>');
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Create")')]);
  expect(/\/admin\/blog\/[0-9a-f-]{36}\/$/.test(new URL(page.url()).pathname), 'on the new post');
  expect(await page.isVisible('dd.state >> text=draft'), 'a draft');
  let r = await api('GET', `/api/blog/spring-${tag}/`);
  expect(r.status === 404, 'a draft is not public (got ' + r.status + ')');
  await page.fill('form.edit textarea[name=body]', '## Typed\n\n**not saved yet**');
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Preview")')]);
  expect(await page.isVisible('article.preview h2 >> text=Typed'), 'the preview shows the typed text');
  expect(await page.isVisible('article.preview strong'), 'Markdown rendered');
  expect((await page.$$('article.preview img')).length === 0, 'raw HTML omitted');
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Save")')]);
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Publish now")')]);
  expect(await page.isVisible('dd.state >> text=published'), 'published');
  await shot(page, 'blog');
  r = await api('GET', `/api/blog/spring-${tag}/`);
  expect(r.status === 200 && r.json.body === '## Typed\n\n**not saved yet**',
    'public with the saved body (got ' + r.status + ')');
});

test('MODERATOR gets 403 on orders', async ({ page }) => {
  await signIn(page, process.env.MODERATOR_EMAIL);
  expect(!(await page.isVisible('nav >> text=Orders')), 'no Orders in the menu');
  const resp = await page.goto(BASE + '/admin/orders/');
  expect(resp.status() === 403, 'status 403 (got ' + resp.status() + ')');
  const users = await page.goto(BASE + '/admin/users/');
  expect(users.status() === 200, 'users are open to moderators');
});

test('a forged cross-site POST changes nothing', async ({ page }) => {
  const c = await chef('Forged ' + uniq());
  const admin = await token(process.env.ADMIN_EMAIL);
  await api('POST', `/api/admin/vendors/${c.chef.id}/verify/`, { is_verified: true }, admin);
  await signIn(page, process.env.ADMIN_EMAIL);
  // another origin's page posting the console's form without the token
  const evil = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'text/html');
    res.end(`<form method="post" action="${BASE}/admin/vendors/${c.chef.id}/unverify/">` +
      '<input name="csrf_token" value="guess"><button id="go">Win a prize</button></form>');
  });
  await new Promise((r) => evil.listen(0, '127.0.0.1', r));
  try {
    await page.goto(`http://127.0.0.1:${evil.address().port}/`);
    const [resp] = await Promise.all([page.waitForNavigation(), page.click('#go')]);
    expect(resp.status() === 403, 'the forged POST is refused (got ' + resp.status() + ')');
  } finally {
    evil.close();
  }
  const r = await api('GET', `/api/chefs/${c.chef.id}/`);
  expect(r.json.is_verified === true, 'still verified');
});

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true, args: ['--no-sandbox'] });
  let passed = 0;
  let failed = 0;
  for (const t of tests) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.setDefaultTimeout(20000);
    try {
      await t.fn({ page });
      passed++;
      console.log('ok - ' + t.name);
    } catch (e) {
      failed++;
      console.log('not ok - ' + t.name + ': ' + (e && e.stack ? e.stack : e));
    }
    await context.close();
  }
  await browser.close();
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.log('browser tests could not run: ' + e);
  console.log(`0 passed, ${tests.length} failed`);
  process.exit(1);
});
