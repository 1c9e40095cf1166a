// The storefront's side of a checkout, and an admin's side of the order's life. Type-checked by
// `tsc --noEmit` (tests/test_typescript_client.py), so it cannot drift from the client.
import { createOrderDeskClient, OrderDeskError, type CreatedOrder } from "../src/client";

export async function checkout(baseUrl: string, cart: { productId: string; quantity: number }[]): Promise<CreatedOrder> {
  const shop = createOrderDeskClient({ baseUrl });
  const order = await shop.createOrder({
    customerName: "Amina Otieno",
    customerPhone: "0712 345 678",
    customerAddress: "Moi Ave 12",
    items: cart,
  });
  return order; // order.orderReference; open order.whatsappUrl to hand over to WhatsApp
}

export async function fulfil(baseUrl: string, adminToken: string, reference: string): Promise<void> {
  const admin = createOrderDeskClient({ baseUrl, token: adminToken });
  try {
    await admin.confirmOrder(reference);
    await admin.updateOrderStatus(reference, "shipped", "DHL 123");
  } catch (err) {
    if (err instanceof OrderDeskError && err.status === 409) {
      console.warn(err.problem.detail); // e.g. not enough stock, or a move the status table forbids
      await admin.cancelOrder(reference, "out of stock");
      return;
    }
    throw err;
  }
  const pending = await admin.getOrders({ status: "pending", limit: 10 });
  const mine = await createOrderDeskClient({ baseUrl, token: "customer-token" }).getMyOrders();
  const one = await admin.getOrderById(reference);
  const catalog = await admin.getProducts({ in_stock: true, ordering: "price" });
  console.log(pending.count, mine.results.length, one.status, catalog.length);
}
