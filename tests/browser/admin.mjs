// Drives Debian's Chromium (headless, via playwright-core) through the demo admin orders page: sign in
// as an admin, list the orders, confirm one, wait past the access token's lifetime, and refresh the
// list. Prints one JSON object for tests/test_browser_checkout.py to judge.
//
//   node admin.mjs '{"chromium": "/usr/bin/chromium", "userDataDir": "...", "url": "...", "username": "...",
//                    "password": "...", "productId": "...", "waitMs": 3000, "screenshotDir": "..."}'
import { chromium } from "playwright-core";

const options = JSON.parse(process.argv[2]);
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const TIMEOUT = 20_000;

const out = { console: [], requests: [] };
const context = await chromium.launchPersistentContext(options.userDataDir, {
  executablePath: options.chromium, headless: true, args: FLAGS, timeout: 60_000,
});

const admin = (page) => page.evaluate(() => {
  const { state, user, orders, total, refreshes, confirmed, error } = window.admin;
  return { state, user, total, refreshes, confirmed, error,
    orders: orders.map((o) => ({ id: o.id, reference: o.order_reference, status: o.status, user: o.user })) };
});
const settled = (page) => page.waitForFunction(() => ["listed", "failed", "signed-out"].includes(window.admin.state),
  null, { timeout: TIMEOUT });

let failed = false;
try {
  const page = await context.newPage();
  page.on("console", (m) => out.console.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => out.console.push(`pageerror: ${e.message}`));
  page.on("response", (r) => out.requests.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`));
  await page.goto(options.url);

  // 1. Sign in through /api/token/; the page lists the orders with the access token.
  await page.fill("input[name=username]", options.username);
  await page.fill("input[name=password]", options.password);
  await page.click("#sign-in-button");
  await settled(page);
  out.signedIn = await admin(page);

  // 2. Confirm the pending order: stock falls.
  out.stockBefore = (await page.evaluate((id) => window.admin.product(id), options.productId)).quantity;
  await page.locator("button[data-confirm]").first().click();
  await page.waitForFunction(() => window.admin.confirmed || window.admin.state === "failed", null, { timeout: TIMEOUT });
  await settled(page);
  out.confirmed = await admin(page);
  out.stockAfter = (await page.evaluate((id) => window.admin.product(id), options.productId)).quantity;

  // 3. The access token expires; the next list call gets a 401, refreshes, and goes on.
  await page.waitForTimeout(options.waitMs);
  await page.click("#reload");
  await settled(page);
  out.afterExpiry = await admin(page);
  if (options.screenshotDir) await page.screenshot({ path: `${options.screenshotDir}/admin.png`, fullPage: true });
} catch (err) {
  failed = true;
  out.error = String(err && err.stack || err);
} finally {
  await context.close();
}
console.log(JSON.stringify(out));
process.exit(failed ? 1 : 0);
