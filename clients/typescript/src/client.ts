/**
 * A small typed client for the orderdesk HTTP API (CONTRACT §2), for storefronts and admin tools.
 *
 * The types come from `./schema.d.ts`, generated from the server's own /api/openapi.json by
 * openapi-typescript (`make client` regenerates it). Each method answers the response body on
 * success and throws an `OrderDeskError` carrying the RFC 9457 problem details otherwise, so a
 * caller writes the happy path and catches one error type.
 *
 *     const api = createOrderDeskClient({ baseUrl: "https://shop.example.com" });
 *     const products = await api.getProducts();
 *     const order = await api.createOrder({ customerName, customerPhone, items: [{ productId, quantity: 1 }] });
 *     window.location.href = order.whatsappUrl;
 */
import createClient from "openapi-fetch";

import type { components, operations, paths } from "./schema";

type Schemas = components["schemas"];

export type Product = Schemas["ProductOut"];
export type ProductQuery = NonNullable<operations["listProducts"]["parameters"]["query"]>;
export type NewOrder = Schemas["OrderCreate"];
export type NewOrderItem = Schemas["OrderItemIn"];
export type Order = Schemas["OrderOut"];
/** The 201 answer to a checkout: the order plus the WhatsApp link the storefront opens. */
export type CreatedOrder = Schemas["OrderCreated"];
export type OrderPage = Schemas["OrderPage"];
export type OrderQuery = NonNullable<operations["listOrders"]["parameters"]["query"]>;
/** `pending | confirmed | processing | shipped | delivered | cancelled`; anything else does not compile. */
export type OrderStatus = Schemas["Status"];
export type PaymentStatus = Schemas["PaymentStatus"];
export type Problem = Schemas["Problem"];
/** Money the shop's own phone received, and the order it paid (`orderReference`, null when none). */
export type LedgerEntry = Schemas["LedgerEntryOut"];
export type LedgerPage = Schemas["LedgerPage"];
export type LedgerQuery = NonNullable<operations["listLedger"]["parameters"]["query"]>;

export interface ClientOptions {
  /** Where orderdesk is served, e.g. `https://orders.example.com` (no `/api`). */
  baseUrl: string;
  /** An API token (`orderdesk token create ...`); guests leave it out. */
  token?: string;
  /** A fetch implementation for tests or old runtimes; the global `fetch` by default. */
  fetch?: typeof globalThis.fetch;
}

/** A 4xx or 5xx answer, with the server's problem details (`problem.detail` is meant for people). */
export class OrderDeskError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(status: number, problem: Problem) {
    super(`${status} ${problem.title}: ${problem.detail}`);
    this.name = "OrderDeskError";
    this.status = status;
    this.problem = problem;
  }
}

type Answer<D, E> = { data?: D; error?: E; response: Response };

async function unwrap<D, E>(call: Promise<Answer<D, E>>): Promise<D> {
  const { data, error, response } = await call;
  if (response.ok) {
    return data as D;
  }
  const problem = isProblem(error)
    ? error
    : { type: "about:blank", title: response.statusText || "HTTP error", status: response.status,
        detail: typeof error === "string" ? error : `HTTP ${response.status}` };
  throw new OrderDeskError(response.status, problem);
}

function isProblem(value: unknown): value is Problem {
  return typeof value === "object" && value !== null && "title" in value && "detail" in value;
}

export function createOrderDeskClient(options: ClientOptions) {
  const http = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    headers: options.token ? { Authorization: `Bearer ${options.token}` } : {},
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const byId = (id: string) => ({ path: { id } });

  return {
    /** Guest checkout: a pending order (201), or the existing one when the same reference is sent again (200). */
    createOrder: (order: NewOrder): Promise<CreatedOrder> =>
      unwrap(http.POST("/api/orders/", { body: order })),

    /** Admin or staff: orders, newest first, with `count` for paging. */
    getOrders: (query: OrderQuery = {}): Promise<OrderPage> =>
      unwrap(http.GET("/api/orders/", { params: { query } })),

    /** Customer token: the orders of the token's phone. */
    getMyOrders: (query: OrderQuery = {}): Promise<OrderPage> =>
      unwrap(http.GET("/api/orders/my-orders/", { params: { query } })),

    /** One order by UUID or reference (admin, staff, or the customer who placed it). */
    getOrderById: (id: string): Promise<Order> =>
      unwrap(http.GET("/api/orders/{id}/", { params: byId(id) })),

    /** Admin or staff: move an order along the status table (409 when the move is not allowed). */
    updateOrderStatus: (id: string, status: OrderStatus, note?: string): Promise<Order> =>
      unwrap(http.PATCH("/api/orders/{id}/", { params: byId(id), body: note === undefined ? { status } : { status, note } })),

    /** Admin or staff: check and reduce stock for every item, or none (409 listing what is short). */
    confirmOrder: (id: string): Promise<Order> =>
      unwrap(http.POST("/api/orders/{id}/confirm/", { params: byId(id) })),

    /** Admin or staff: cancel; restocks what a confirm took, once. */
    cancelOrder: (id: string, reason = ""): Promise<Order> =>
      unwrap(http.POST("/api/orders/{id}/cancel/", { params: byId(id), body: { reason } })),

    /** Admin or staff: the shop's own ledger of money received, newest first; `{ unmatched: true }` for money with no order. */
    getLedger: (query: LedgerQuery = {}): Promise<LedgerPage> =>
      unwrap(http.GET("/api/ledger/", { params: { query } })),

    /** The catalog (anyone). */
    getProducts: (query: ProductQuery = {}): Promise<Product[]> =>
      unwrap(http.GET("/api/products/", { params: { query } })),

    /** The underlying openapi-fetch client, for the routes this wrapper does not name. */
    http,
  };
}

export type OrderDeskClient = ReturnType<typeof createOrderDeskClient>;
