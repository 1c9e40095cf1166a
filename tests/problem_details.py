"""Reading RFC 9457 problem details (CONTRACT §2) the way a client does, and what a refusal must leave alone."""
from __future__ import annotations

PROBLEM = "application/problem+json"


async def problem_of(response, status: int) -> dict:
    """The problem a response carries, after checking it is one with the given status."""
    text = await response.text()
    assert response.status == status, f"expected {status}, got {response.status}: {text}"
    assert response.content_type == PROBLEM, f"{response.content_type}: {text}"
    body = await response.json(content_type=None)
    assert {"type", "title", "status", "detail"} <= body.keys(), body
    assert body["status"] == status and body["detail"], body
    return body


def field_messages(problem: dict) -> dict[str, str]:
    """{field: message} from a validation problem's `errors`."""
    return {e["field"]: e["message"] for e in problem.get("errors") or []}


async def order_count(client, headers) -> int:
    response = await client.get("/api/orders/?limit=1", headers=headers)
    assert response.status == 200, await response.text()
    return (await response.json())["count"]


async def snapshot(client, admin) -> tuple:
    """Everything a client can see of the shop's state, to show a refused request changed none of it."""
    orders = await (await client.get("/api/orders/?limit=100", headers=admin)).json()
    products = await (await client.get("/api/products/")).json()
    return orders, products


def item_with(product, **fields) -> dict:
    return {"productId": product["id"], "quantity": 1, **fields}
