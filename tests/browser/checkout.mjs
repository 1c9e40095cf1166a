// Drives Debian's Chromium (headless, via playwright-core) through the demo storefront twice: once
// from an origin the API allows (check out two products), once from one it does not (every call must
// fail in the browser). Prints one JSON object for tests/test_browser_checkout.py to judge.
//
//   node checkout.mjs '{"chromium": "/usr/bin/chromium", "userDataDir": "...", "allowedUrl": "...",
//                       "deniedUrl": "...", "screenshotDir": "..."}'
import { chromium } from "playwright-core";

const options = JSON.parse(process.argv[2]);
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const TIMEOUT = 20_000;

const out = { allowed: {}, denied: {}, console: [] };
const context = await chromium.launchPersistentContext(options.userDataDir, {
  executablePath: options.chromium, headless: true, args: FLAGS, timeout: 60_000,
});

function watch(page, label) {
  page.on("console", (m) => out.console.push(`${label} ${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => out.console.push(`${label} pageerror: ${e.message}`));
  page.on("requestfailed", (r) => out.console.push(`${label} requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
}

const storefront = (page) => page.evaluate(() => {
  const { state, error, order, products } = window.storefront;
  return { state, error, order, products: products.map((p) => ({ id: p.id, price: p.price })) };
});

let failed = false;
try {
  // 1. The allowed origin: load the catalog, add two products, check out.
  const page = await context.newPage();
  watch(page, "allowed");
  await page.goto(options.allowedUrl);
  await page.waitForFunction(() => window.storefront && window.storefront.state !== "loading", null, { timeout: TIMEOUT });
  const buttons = page.locator("button[data-product-id]");
  out.allowed.added = [];
  for (const i of [0, 1]) {
    out.allowed.added.push(await buttons.nth(i).getAttribute("data-product-id"));
    await buttons.nth(i).click();
  }
  out.allowed.cartCount = await page.locator("#cart-count").textContent();
  out.allowed.cartTotal = await page.locator("#cart-total").textContent();
  await page.fill("input[name=customerName]", "Amina Otieno");
  await page.fill("input[name=customerPhone]", "+254712345678");
  await page.fill("input[name=customerAddress]", "Moi Ave 12");
  await page.click("#checkout-button");
  await page.waitForFunction(() => ["ordered", "failed"].includes(window.storefront.state), null, { timeout: TIMEOUT });
  Object.assign(out.allowed, await storefront(page));
  out.allowed.whatsappHref = await page.locator("#whatsapp").getAttribute("href");
  out.allowed.result = await page.locator("#result").textContent();
  if (options.screenshotDir) await page.screenshot({ path: `${options.screenshotDir}/allowed.png`, fullPage: true });

  // 2. A disallowed origin: the same page; the catalog call and a direct checkout must both fail.
  const denied = await context.newPage();
  watch(denied, "denied");
  await denied.goto(options.deniedUrl);
  await denied.waitForFunction(() => window.storefront && window.storefront.state !== "loading", null, { timeout: TIMEOUT });
  Object.assign(out.denied, await storefront(denied));
  // The very order the allowed page placed, so that only CORS can stop it.
  const lines = out.allowed.products.filter((p) => out.allowed.added.includes(p.id)).map((product) => ({ product, quantity: 1 }));
  out.denied.checkoutError = await denied.evaluate(async (lines) => {
    try {
      const order = await window.storefront.checkout({ customerName: "Eve", customerPhone: "+254712345679" }, lines);
      return `no error: order ${order.orderReference} was created`;
    } catch (err) {
      return `${err.name}: ${err.message}`;
    }
  }, lines);
  if (options.screenshotDir) await denied.screenshot({ path: `${options.screenshotDir}/denied.png`, fullPage: true });
} catch (err) {
  failed = true;
  out.error = String(err && err.stack || err);
} finally {
  await context.close();
}
console.log(JSON.stringify(out));
process.exit(failed ? 1 : 0);
