// A storefront in a few lines: list the catalog, fill a cart, check out through the typed client, and
// hand over to WhatsApp. `window.storefront` exposes its state to the test that drives it.
import { createOrderDeskClient } from "./client.js";

const api = createOrderDeskClient({ baseUrl: new URLSearchParams(location.search).get("api") });
const $ = (id) => document.getElementById(id);
const cart = new Map(); // productId -> {product, quantity}
const state = (window.storefront = { state: "loading", error: null, products: [], order: null, checkout });

const cents = (money) => Math.round(Number(money) * 100);
const money = (c) => (c / 100).toFixed(2);

function renderCart() {
  const lines = [...cart.values()];
  $("cart-count").textContent = String(lines.reduce((n, l) => n + l.quantity, 0));
  $("cart-total").textContent = money(lines.reduce((t, l) => t + cents(l.product.price) * l.quantity, 0));
  $("checkout-button").disabled = lines.length === 0;
}

function add(product) {
  const line = cart.get(product.id) ?? { product, quantity: 0 };
  line.quantity += 1;
  cart.set(product.id, line);
  renderCart();
}

async function load() {
  try {
    state.products = await api.getProducts({ in_stock: true });
  } catch (err) {
    state.state = "error";
    state.error = `${err.name}: ${err.message}`;
    $("status").textContent = `The shop is unreachable (${state.error}).`;
    return;
  }
  for (const product of state.products) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.textContent = "Add to cart";
    button.dataset.productId = product.id;
    button.addEventListener("click", () => add(product));
    item.append(`${product.name} — ${product.price} `, button);
    $("products").append(item);
  }
  $("status").textContent = `${state.products.length} products`;
  state.state = "ready";
}

// Exposed so the test can also try a checkout straight away, e.g. from an origin the API refuses.
async function checkout(customer, lines) {
  const items = lines.map(({ product, quantity }) => ({ productId: product.id, quantity, unitPrice: product.price }));
  const total = money(lines.reduce((t, l) => t + cents(l.product.price) * l.quantity, 0));
  return api.createOrder({ ...customer, items, total });
}

$("checkout").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const customer = Object.fromEntries(["customerName", "customerPhone", "customerAddress"].map((k) => [k, form.get(k)]));
  state.state = "checking-out";
  try {
    state.order = await checkout(customer, [...cart.values()]);
  } catch (err) {
    state.state = "failed";
    state.error = `${err.name}: ${err.message}`;
    $("result").textContent = `Checkout failed: ${err.message}`;
    return;
  }
  $("result").textContent = `Order ${state.order.orderReference} placed. Pay, then send us the receipt on WhatsApp.`;
  $("whatsapp").href = state.order.whatsappUrl; // a real storefront would open it: location.href = ...
  $("whatsapp").hidden = false;
  state.state = "ordered";
});

load();
