// The old storefront's admin orders page, reduced to what it does on the wire (lib/api/client.ts,
// auth.ts, orders.ts there): sign in, list orders, confirm one, and survive an expired access token by
// refreshing it. `window.admin` exposes its state to the test that drives it.
const api = new URLSearchParams(location.search).get("api");
const $ = (id) => document.getElementById(id);
const state = (window.admin = { state: "signed-out", user: null, orders: [], total: null, refreshes: 0,
  confirmed: null, error: null, product });

async function send(method, path, body, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(api + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { response, data: await response.json() };
}

// As the storefront's axios interceptor: a 401 refreshes the access token once, then the call is retried.
async function call(method, path, body) {
  let answer = await send(method, path, body, localStorage.getItem("access_token"));
  if (answer.response.status === 401 && localStorage.getItem("refresh_token")) {
    const refreshed = await send("POST", "/api/token/refresh/", { refresh: localStorage.getItem("refresh_token") });
    if (!refreshed.response.ok) {
      localStorage.clear();
      state.state = "signed-out";
      throw new Error(`signed out: ${refreshed.data.detail}`);
    }
    localStorage.setItem("access_token", refreshed.data.access);
    state.refreshes += 1;
    answer = await send(method, path, body, refreshed.data.access);
  }
  if (!answer.response.ok) {
    // The admin page's own reading of an error: `error`, else `details`.
    throw new Error(answer.data.error || (answer.data.details || []).join(", ") || "Failed");
  }
  return answer;
}

async function product(id) {
  return (await call("GET", `/api/products/${id}/`)).data;
}

async function listOrders() {
  const { response, data } = await call("GET", "/api/orders/");
  state.orders = data;
  state.total = response.headers.get("X-Total-Count");
  const list = $("orders");
  list.replaceChildren();
  for (const order of data) {
    const item = document.createElement("li");
    item.dataset.orderId = order.id;
    item.append(`${order.order_reference} ${order.customer_name} ${order.total} ${order.status} `);
    if (order.status === "pending") {
      const button = document.createElement("button");
      button.textContent = "Confirm Order & Reduce Stock";
      button.dataset.confirm = order.id;
      button.addEventListener("click", () => act(() => confirm(order.id)));
      item.append(button);
    }
    list.append(item);
  }
  state.state = "listed";
}

async function confirm(id) {
  const { data } = await call("POST", `/api/orders/${id}/confirm/`);
  state.confirmed = data;
  $("message").textContent = data.message;
  await listOrders();
}

async function act(step) {
  state.state = "busy";
  try {
    await step();
  } catch (err) {
    state.state = "failed";
    state.error = err.message;
    $("message").textContent = err.message;
  }
}

$("sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  act(async () => {
    const { response, data } = await send("POST", "/api/token/", { username: form.get("username"), password: form.get("password") });
    if (!response.ok) throw new Error(data.detail);
    localStorage.setItem("access_token", data.access);
    localStorage.setItem("refresh_token", data.refresh);
    state.user = data.user;
    $("who").textContent = `Signed in as ${data.user.username} (${data.user.role})`;
    $("reload").hidden = false;
    await listOrders();
  });
});
$("reload").addEventListener("click", () => act(listOrders));
